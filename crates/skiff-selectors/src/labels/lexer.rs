//! Tokenizer for the label selector string syntax.
//!
//! It reproduces the byte-level behaviour of apimachinery's lexer, including
//! its corner cases (a NUL byte reads as "end" in some positions), because
//! the accepted language and the error messages must match kube-apiserver.

/// A lexical token of the label selector syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// Unrecognized symbol sequence.
    Error,
    /// End of input.
    EndOfString,
    /// `)`
    ClosedPar,
    /// `,`
    Comma,
    /// `!`
    DoesNotExist,
    /// `==`
    DoubleEquals,
    /// `=`
    Equals,
    /// `>`
    GreaterThan,
    /// A key or a value.
    Identifier,
    /// `in`
    In,
    /// `<`
    LessThan,
    /// `!=`
    NotEquals,
    /// `notin`
    NotIn,
    /// `(`
    OpenPar,
}

/// The fixed spellings of tokens (everything but identifiers and end of input).
fn keyword(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Cursor over the input bytes.
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    /// Next byte, or 0 at the end (a real NUL byte also reads as 0 but is consumed).
    fn read(&mut self) -> u8 {
        match self.s.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    fn scan_id_or_keyword(&mut self) -> (Token, String) {
        let mut buf = Vec::new();
        loop {
            let c = self.read();
            if c == 0 {
                break;
            }
            if is_special(c) || is_whitespace(c) {
                self.unread();
                break;
            }
            buf.push(c);
        }
        match keyword(&buf) {
            Some(tok) => (tok, Self::text(&buf)),
            None => (Token::Identifier, Self::text(&buf)),
        }
    }

    fn scan_special(&mut self) -> (Token, String) {
        let mut buf = Vec::new();
        let mut last: Option<(Token, String)> = None;
        loop {
            let c = self.read();
            if c == 0 {
                break;
            }
            if !is_special(c) {
                self.unread();
                break;
            }
            buf.push(c);
            if let Some(tok) = keyword(&buf) {
                last = Some((tok, Self::text(&buf)));
            } else if last.is_some() {
                self.unread();
                break;
            }
        }
        last.unwrap_or_else(|| {
            (
                Token::Error,
                format!("error expected: keyword found '{}'", Self::text(&buf)),
            )
        })
    }

    fn lex(&mut self) -> (Token, String) {
        let mut c = self.read();
        while is_whitespace(c) {
            c = self.read();
        }
        if c == 0 {
            return (Token::EndOfString, String::new());
        }
        self.unread();
        if is_special(c) {
            self.scan_special()
        } else {
            self.scan_id_or_keyword()
        }
    }
}

/// Split the whole input into tokens, ending with `EndOfString`.
pub(crate) fn tokenize(input: &str) -> Vec<(Token, String)> {
    let mut lexer = Lexer {
        s: input.as_bytes(),
        pos: 0,
    };
    let mut items = Vec::new();
    loop {
        let item = lexer.lex();
        let end = item.0 == Token::EndOfString;
        items.push(item);
        if end {
            return items;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        use Token::*;
        let cases: &[(&str, &[Token])] = &[
            ("", &[EndOfString]),
            ("x", &[Identifier, EndOfString]),
            ("x=y", &[Identifier, Equals, Identifier, EndOfString]),
            ("x==y", &[Identifier, DoubleEquals, Identifier, EndOfString]),
            ("x!=y", &[Identifier, NotEquals, Identifier, EndOfString]),
            ("!x", &[DoesNotExist, Identifier, EndOfString]),
            ("x>1", &[Identifier, GreaterThan, Identifier, EndOfString]),
            ("x<1", &[Identifier, LessThan, Identifier, EndOfString]),
            (
                "x in (a,b)",
                &[
                    Identifier,
                    In,
                    OpenPar,
                    Identifier,
                    Comma,
                    Identifier,
                    ClosedPar,
                    EndOfString,
                ],
            ),
            (
                "x notin()",
                &[Identifier, NotIn, OpenPar, ClosedPar, EndOfString],
            ),
            ("  \t x \n ", &[Identifier, EndOfString]),
            // "=(" is not a keyword, so the lexer stops after "=".
            ("x=(", &[Identifier, Equals, OpenPar, EndOfString]),
            (
                "!!x",
                &[DoesNotExist, DoesNotExist, Identifier, EndOfString],
            ),
            (
                "x<=1",
                &[Identifier, LessThan, Equals, Identifier, EndOfString],
            ),
            // A NUL byte inside a token only ends that token...
            ("x\0=y", &[Identifier, Equals, Identifier, EndOfString]),
            // ...but at the start of a token it ends the input.
            ("x \0=y", &[Identifier, EndOfString]),
        ];
        for (input, want) in cases {
            let got: Vec<Token> = tokenize(input).into_iter().map(|(t, _)| t).collect();
            assert_eq!(&got, want, "input {input:?}");
        }
    }

    #[test]
    fn literals_are_kept() {
        let got = tokenize("app.kubernetes.io/name in (web,db)");
        let lits: Vec<&str> = got.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            lits,
            [
                "app.kubernetes.io/name",
                "in",
                "(",
                "web",
                ",",
                "db",
                ")",
                ""
            ]
        );
    }
}
