//! Low-level protobuf wire format reading.

use crate::error::DecodeError;

/// The six protobuf wire types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WireType {
    /// 0: varint.
    Varint,
    /// 1: little-endian 64-bit.
    Fixed64,
    /// 2: length-delimited.
    Len,
    /// 3: deprecated group start.
    StartGroup,
    /// 4: deprecated group end.
    EndGroup,
    /// 5: little-endian 32-bit.
    Fixed32,
}

impl WireType {
    /// The numeric wire type, for error messages.
    pub(crate) fn code(self) -> u8 {
        match self {
            WireType::Varint => 0,
            WireType::Fixed64 => 1,
            WireType::Len => 2,
            WireType::StartGroup => 3,
            WireType::EndGroup => 4,
            WireType::Fixed32 => 5,
        }
    }
}

/// Group nesting allowed while skipping unknown groups; bounds recursion.
const MAX_GROUP_DEPTH: usize = 64;

/// A cursor over protobuf bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Start reading at the beginning of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// True once every byte has been consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Read a base-128 varint.
    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = *self
                .buf
                .get(self.pos)
                .ok_or(DecodeError::Truncated { context: "varint" })?;
            self.pos += 1;
            // The tenth byte may only contribute the top bit of a 64-bit value.
            if i == 9 && byte > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    /// Read `n` raw bytes.
    fn take(&mut self, n: usize, context: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or(DecodeError::Truncated { context })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// Read a little-endian 32-bit value.
    pub(crate) fn fixed32(&mut self) -> Result<u32, DecodeError> {
        let bytes = self.take(4, "fixed32")?;
        let mut arr = [0u8; 4];
        arr.copy_from_slice(bytes);
        Ok(u32::from_le_bytes(arr))
    }

    /// Read a little-endian 64-bit value.
    pub(crate) fn fixed64(&mut self) -> Result<u64, DecodeError> {
        let bytes = self.take(8, "fixed64")?;
        let mut arr = [0u8; 8];
        arr.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(arr))
    }

    /// Read a length-delimited payload.
    pub(crate) fn len_delimited(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated {
            context: "length-delimited field",
        })?;
        self.take(len, "length-delimited field")
    }

    /// Read a field tag: (field number, wire type).
    pub(crate) fn tag(&mut self) -> Result<(u32, WireType), DecodeError> {
        let tag = self.varint()?;
        let wire = match tag & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            3 => WireType::StartGroup,
            4 => WireType::EndGroup,
            5 => WireType::Fixed32,
            _ => return Err(DecodeError::InvalidTag { tag }),
        };
        let num = u32::try_from(tag >> 3).map_err(|_| DecodeError::InvalidTag { tag })?;
        if num == 0 {
            return Err(DecodeError::InvalidTag { tag });
        }
        Ok((num, wire))
    }

    /// Skip over a value of an unknown field, as upstream decoders do.
    pub(crate) fn skip(&mut self, num: u32, wire: WireType) -> Result<(), DecodeError> {
        self.skip_nested(num, wire, 0)
    }

    fn skip_nested(&mut self, num: u32, wire: WireType, depth: usize) -> Result<(), DecodeError> {
        match wire {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.fixed64().map(drop),
            WireType::Fixed32 => self.fixed32().map(drop),
            WireType::Len => self.len_delimited().map(drop),
            WireType::StartGroup => {
                if depth >= MAX_GROUP_DEPTH {
                    return Err(DecodeError::TooDeep(MAX_GROUP_DEPTH));
                }
                loop {
                    if self.is_empty() {
                        return Err(DecodeError::Truncated { context: "group" });
                    }
                    let (inner, inner_wire) = self.tag()?;
                    if inner_wire == WireType::EndGroup {
                        if inner == num {
                            return Ok(());
                        }
                        return Err(DecodeError::InvalidTag {
                            tag: (u64::from(inner) << 3) | 4,
                        });
                    }
                    self.skip_nested(inner, inner_wire, depth + 1)?;
                }
            }
            WireType::EndGroup => Err(DecodeError::InvalidTag {
                tag: (u64::from(num) << 3) | 4,
            }),
        }
    }
}
