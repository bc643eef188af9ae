//! A small C/C++ lexer: enough of C to tell code from comments and string
//! literals, and to split preprocessor directives from the code around them.
//! It works on bytes (sources need not be UTF-8) and never fails: what it
//! does not understand becomes a one-byte punctuator.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    Ident,
    Number,
    /// A string literal, quotes (and any L/u/U/u8 prefix) included.
    Str,
    Char,
    Punct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok {
    pub kind: TokKind,
    pub text: String,
    /// 1-based line and column (columns count bytes) of its first byte.
    pub line: u32,
    pub column: u32,
    /// Its byte range in the file, for a later rewrite.
    pub start: usize,
    pub end: usize,
}

/// A line of the file: a preprocessor directive, or one code token.
#[derive(Debug, Clone)]
pub enum Item {
    /// `#name rest...`: `name` is the directive (`if`, `define`...),
    /// `tokens` what follows it, comments removed, continuations joined.
    Directive {
        name: String,
        tokens: Vec<Tok>,
        line: u32,
    },
    Code(Tok),
}

const PUNCTS: &[&str] = &[
    "<<=", ">>=", "...", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+=", "-=", "*=", "/=",
    "%=", "&=", "|=", "^=", "##", "::",
];

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
}

impl<'a> Lexer<'a> {
    fn peek(&self, ahead: usize) -> u8 {
        self.src.get(self.pos + ahead).copied().unwrap_or(0)
    }

    /// Skips a backslash-newline (a line continuation) at the position.
    fn skip_continuation(&mut self) -> bool {
        let n = match (self.peek(0), self.peek(1), self.peek(2)) {
            (b'\\', b'\n', _) => 2,
            (b'\\', b'\r', b'\n') => 3,
            _ => return false,
        };
        self.pos += n;
        self.newline_at(self.pos);
        true
    }

    fn newline_at(&mut self, next_line_start: usize) {
        self.line += 1;
        self.line_start = next_line_start;
    }

    /// Skips spaces, tabs, comments and continuations; stops at a newline
    /// when `in_directive` (a directive ends there), else skips newlines too.
    /// Returns whether a newline was crossed.
    fn skip_blank(&mut self, in_directive: bool) -> bool {
        let mut crossed = false;
        loop {
            match self.peek(0) {
                b' ' | b'\t' | b'\x0c' | b'\x0b' | b'\r' => self.pos += 1,
                b'\n' if !in_directive => {
                    self.pos += 1;
                    self.newline_at(self.pos);
                    crossed = true;
                }
                b'\\' if self.skip_continuation() => {}
                b'/' if self.peek(1) == b'*' => {
                    self.pos += 2;
                    while self.pos < self.src.len() && !(self.peek(0) == b'*' && self.peek(1) == b'/') {
                        if self.peek(0) == b'\n' {
                            self.newline_at(self.pos + 1);
                        }
                        self.pos += 1;
                    }
                    self.pos = (self.pos + 2).min(self.src.len());
                }
                b'/' if self.peek(1) == b'/' => {
                    while self.pos < self.src.len() && self.peek(0) != b'\n' {
                        if !self.skip_continuation() {
                            self.pos += 1;
                        }
                    }
                }
                _ => return crossed,
            }
        }
    }

    fn token(&mut self) -> Tok {
        let start = self.pos;
        let (line, column) = (self.line, (start - self.line_start + 1) as u32);
        let c = self.peek(0);
        let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
        let kind = if ident(c) && !c.is_ascii_digit() {
            while ident(self.peek(0)) {
                self.pos += 1;
            }
            // A string or character literal's prefix: L"", u8"", u'', U"".
            let prefix = &self.src[start..self.pos];
            if matches!(prefix, b"L" | b"u" | b"U" | b"u8") && matches!(self.peek(0), b'"' | b'\'') {
                self.quoted()
            } else {
                TokKind::Ident
            }
        } else if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_ascii_digit()) {
            while ident(self.peek(0))
                || self.peek(0) == b'.'
                || (matches!(self.peek(0), b'+' | b'-') && matches!(self.src[self.pos - 1], b'e' | b'E' | b'p' | b'P'))
            {
                self.pos += 1;
            }
            TokKind::Number
        } else if c == b'"' || c == b'\'' {
            self.quoted()
        } else {
            let rest = &self.src[self.pos..];
            let len = PUNCTS.iter().find(|p| rest.starts_with(p.as_bytes())).map_or(1, |p| p.len());
            self.pos += len.min(rest.len()).max(1);
            TokKind::Punct
        };
        let end = self.pos;
        Tok { kind, text: String::from_utf8_lossy(&self.src[start..end]).into_owned(), line, column, start, end }
    }

    /// A string or character literal from its opening quote; an unclosed one
    /// ends at the end of its line.
    fn quoted(&mut self) -> TokKind {
        let quote = self.peek(0);
        self.pos += 1;
        while self.pos < self.src.len() {
            match self.peek(0) {
                b'\\' if self.skip_continuation() => {}
                b'\\' => self.pos += 2,
                b'\n' => break,
                q if q == quote => {
                    self.pos += 1;
                    break;
                }
                _ => self.pos += 1,
            }
        }
        self.pos = self.pos.min(self.src.len());
        if quote == b'"' { TokKind::Str } else { TokKind::Char }
    }
}

/// Splits `src` into directives and code tokens, in order.
pub fn lex(src: &[u8]) -> Vec<Item> {
    let mut lx = Lexer { src, pos: 0, line: 1, line_start: 0 };
    let mut items = Vec::new();
    let mut at_line_start = true;
    loop {
        if lx.skip_blank(false) {
            at_line_start = true;
        }
        if lx.pos >= src.len() {
            return items;
        }
        if at_line_start && lx.peek(0) == b'#' {
            let line = lx.line;
            lx.pos += 1;
            lx.skip_blank(true);
            let mut tokens = Vec::new();
            while lx.pos < src.len() && lx.peek(0) != b'\n' {
                tokens.push(lx.token());
                lx.skip_blank(true);
            }
            let name = match tokens.first() {
                Some(t) if t.kind == TokKind::Ident => tokens.remove(0).text,
                _ => String::new(),
            };
            items.push(Item::Directive { name, tokens, line });
            continue;
        }
        at_line_start = false;
        items.push(Item::Code(lx.token()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(src: &str) -> Vec<String> {
        lex(src.as_bytes())
            .into_iter()
            .filter_map(|i| match i {
                Item::Code(t) => Some(t.text),
                Item::Directive { .. } => None,
            })
            .collect()
    }

    #[test]
    fn comments_and_strings_are_not_identifiers() {
        let toks = code("a /* PyString_X */ b // PyInt_Y\nc \"PyInt_Z \\\" q\" 'x' L\"w\" u8\"v\"");
        assert_eq!(toks, ["a", "b", "c", "\"PyInt_Z \\\" q\"", "'x'", "L\"w\"", "u8\"v\""]);
    }

    #[test]
    fn directives_join_continuations_and_keep_positions() {
        let items = lex(b"x;\n  #  define F(a) \\\n   a->ob_type /* c */\ny->z\n");
        let Item::Directive { name, tokens, line } = &items[2] else { panic!("{items:?}") };
        assert_eq!((name.as_str(), *line), ("define", 2));
        let texts: Vec<_> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["F", "(", "a", ")", "a", "->", "ob_type"]);
        assert_eq!((tokens[6].line, tokens[6].column), (3, 7));
        let Item::Code(y) = &items[3] else { panic!() };
        assert_eq!((y.text.as_str(), y.line, y.column), ("y", 4, 1));
        // A `#` that does not start a line is an ordinary token.
        assert_eq!(code("a # b"), ["a", "#", "b"]);
    }
}
