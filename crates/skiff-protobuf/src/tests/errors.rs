//! Malformed or unsupported bodies fail with the right `DecodeError`.

use super::encoder::{envelope, object_meta, Enc};
use crate::{decode, DecodeError, MAGIC};

fn with_magic(bytes: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A v1 List whose single item nests another List `depth` times via RawExtension.
fn nested_lists(depth: usize) -> Vec<u8> {
    let mut body = envelope("v1", "List", Enc::new());
    for _ in 0..depth {
        body = envelope("v1", "List", Enc::new().msg(2, Enc::new().bytes(1, &body)));
    }
    body
}

#[test]
fn bad_input_yields_specific_errors() {
    let quantity_map =
        |q: Enc| Enc::new().msg(2, Enc::new().msg(1, Enc::new().str(1, "cpu").msg(2, q)));
    let cases: Vec<(&str, Vec<u8>, fn(&DecodeError) -> bool)> = vec![
        ("empty body", vec![], |e| matches!(e, DecodeError::BadMagic)),
        ("short magic", b"k8s".to_vec(), |e| {
            matches!(e, DecodeError::BadMagic)
        }),
        ("json body", br#"{"kind":"ConfigMap"}"#.to_vec(), |e| {
            matches!(e, DecodeError::BadMagic)
        }),
        ("truncated tag varint", with_magic(&[0x0a, 0x80]), |e| {
            matches!(e, DecodeError::Truncated { .. })
        }),
        ("length past end", with_magic(&[0x0a, 0x05, 0x01]), |e| {
            matches!(e, DecodeError::Truncated { .. })
        }),
        (
            "varint too long",
            with_magic(&[
                0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ]),
            |e| matches!(e, DecodeError::VarintOverflow),
        ),
        ("field number zero", with_magic(&[0x02, 0x00]), |e| {
            matches!(e, DecodeError::InvalidTag { .. })
        }),
        ("wire type 7", with_magic(&[0x0f]), |e| {
            matches!(e, DecodeError::InvalidTag { .. })
        }),
        (
            "no type meta",
            with_magic(&Enc::new().msg(2, Enc::new()).0),
            |e| matches!(e, DecodeError::MissingTypeMeta),
        ),
        (
            "unknown kind",
            envelope("v1", "Widget", Enc::new()),
            |e| matches!(e, DecodeError::UnknownKind { api_version, kind } if api_version == "v1" && kind == "Widget"),
        ),
        (
            "beta version not in table",
            envelope("extensions/v1beta1", "Deployment", Enc::new()),
            |e| matches!(e, DecodeError::UnknownKind { .. }),
        ),
        (
            "gzip content encoding",
            with_magic(
                &Enc::new()
                    .msg(1, Enc::new().str(1, "v1").str(2, "ConfigMap"))
                    .str(3, "gzip")
                    .0,
            ),
            |e| matches!(e, DecodeError::UnsupportedEncoding(enc) if enc == "gzip"),
        ),
        (
            "json content type",
            with_magic(
                &Enc::new()
                    .msg(1, Enc::new().str(1, "v1").str(2, "ConfigMap"))
                    .str(4, "application/json")
                    .0,
            ),
            |e| matches!(e, DecodeError::UnsupportedContentType(_)),
        ),
        (
            "metadata sent as varint",
            envelope("v1", "ConfigMap", Enc::new().int(1, 1)),
            |e| {
                matches!(
                    e,
                    DecodeError::WrongWireType {
                        field: "metadata",
                        found: 0,
                        ..
                    }
                )
            },
        ),
        (
            "string sent as varint",
            envelope("v1", "ConfigMap", Enc::new().msg(1, Enc::new().int(1, 5))),
            |e| matches!(e, DecodeError::WrongWireType { field: "name", .. }),
        ),
        (
            "IntOrString with impossible type",
            envelope(
                "v1",
                "Service",
                Enc::new().msg(
                    2,
                    Enc::new().msg(1, Enc::new().msg(4, Enc::new().int(1, 2))),
                ),
            ),
            |e| matches!(e, DecodeError::InvalidIntOrString(2)),
        ),
        (
            "empty quantity string",
            envelope("v1", "ResourceQuota", quantity_map(Enc::new().str(1, ""))),
            |e| matches!(e, DecodeError::InvalidQuantity),
        ),
        (
            "raw extension that is not json",
            envelope(
                "v1",
                "List",
                Enc::new().msg(2, Enc::new().bytes(1, b"not json")),
            ),
            |e| matches!(e, DecodeError::InvalidRawJson(_)),
        ),
        ("raw extensions nested too deep", nested_lists(120), |e| {
            matches!(e, DecodeError::TooDeep(_))
        }),
        (
            "unterminated group",
            envelope(
                "v1",
                "ConfigMap",
                Enc::new()
                    .msg(1, object_meta("x", "", &[]))
                    .raw(&[0xfb, 0x06]),
            ),
            |e| matches!(e, DecodeError::Truncated { context: "group" }),
        ),
    ];
    for (name, body, check) in cases {
        match decode(&body) {
            Ok(v) => panic!("{name}: expected an error, got {v}"),
            Err(e) => assert!(check(&e), "{name}: unexpected error {e:?}"),
        }
    }
}

#[test]
fn moderate_raw_extension_nesting_is_fine() {
    assert!(decode(&nested_lists(10)).is_ok());
}

#[test]
fn wrong_wire_type_message_names_the_field() {
    let err = decode(&envelope("v1", "ConfigMap", Enc::new().int(1, 1)));
    let text = err.map(|_| String::new()).unwrap_or_else(|e| e.to_string());
    assert_eq!(
        text,
        "proto: wrong wireType = 0 for field metadata in k8s.io.api.core.v1.ConfigMap"
    );
}
