//! A Sigma rule's `condition`: `and`, `or`, `not`, parentheses, and
//! `1 of` / `all of` (`any of`) a name pattern (`selection_*`) or `them`
//! (every search identifier but those whose name starts with `_`). A list
//! of conditions is any of them. Identifiers are resolved to the rule's
//! searches when parsed: a name that names none is an error.

/// A condition over a rule's searches (by their index).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Search(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    pub fn eval(&self, hit: &mut dyn FnMut(usize) -> bool) -> bool {
        match self {
            Cond::Search(i) => hit(*i),
            Cond::Not(c) => !c.eval(hit),
            Cond::And(cs) => cs.iter().all(|c| c.eval(hit)),
            Cond::Or(cs) => cs.iter().any(|c| c.eval(hit)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Pipe,
}

fn lex(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        let t = match c {
            '(' => Some(Tok::Open),
            ')' => Some(Tok::Close),
            '|' => Some(Tok::Pipe),
            c if c.is_whitespace() => None,
            c => {
                word.push(c);
                continue;
            }
        };
        if !word.is_empty() {
            out.push(Tok::Word(std::mem::take(&mut word)));
        }
        out.extend(t);
    }
    if !word.is_empty() {
        out.push(Tok::Word(word));
    }
    out
}

/// Whether `name` fits `pattern` (`*` any text, as in `selection_*`).
fn fits(pattern: &str, name: &str) -> bool {
    let p = super::detection::Pattern::new(
        super::detection::pieces(pattern),
        super::detection::Placement::Whole,
        true,
    );
    p.matches(name)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    at: usize,
    names: &'a [String],
}

/// Parses `text` over the search identifiers `names`.
pub fn parse(text: &str, names: &[String]) -> Result<Cond, String> {
    let mut p = Parser { toks: lex(text), at: 0, names };
    if p.toks.is_empty() {
        return Err("the condition is empty".into());
    }
    let c = p.or()?;
    match p.toks.get(p.at) {
        None => Ok(c),
        Some(Tok::Pipe) => {
            Err("aggregations after `|` (count() by …) are not supported: write a correlation rule"
                .into())
        }
        Some(t) => Err(format!("unexpected {} in the condition", show(t))),
    }
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("{w:?}"),
        Tok::Open => "\"(\"".into(),
        Tok::Close => "\")\"".into(),
        Tok::Pipe => "\"|\"".into(),
    }
}

impl Parser<'_> {
    fn word(&self, k: usize) -> Option<&str> {
        match self.toks.get(self.at + k) {
            Some(Tok::Word(w)) => Some(w.as_str()),
            _ => None,
        }
    }

    fn keyword(&self, k: usize, kw: &str) -> bool {
        self.word(k).is_some_and(|w| w.eq_ignore_ascii_case(kw))
    }

    fn or(&mut self) -> Result<Cond, String> {
        let mut parts = vec![self.and()?];
        while self.keyword(0, "or") {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one") } else { Cond::Or(parts) })
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut parts = vec![self.not()?];
        while self.keyword(0, "and") {
            self.at += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one") } else { Cond::And(parts) })
    }

    fn not(&mut self) -> Result<Cond, String> {
        if self.keyword(0, "not") {
            self.at += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, String> {
        match self.toks.get(self.at).cloned() {
            Some(Tok::Open) => {
                self.at += 1;
                let c = self.or()?;
                if self.toks.get(self.at) != Some(&Tok::Close) {
                    return Err("a \"(\" in the condition is not closed".into());
                }
                self.at += 1;
                Ok(c)
            }
            Some(Tok::Word(w)) if self.keyword(1, "of") => {
                let all = match w.to_ascii_lowercase().as_str() {
                    "1" | "any" => false,
                    "all" => true,
                    _ => return Err(format!("{w:?} of …: only `1 of`, `any of` and `all of`")),
                };
                let Some(target) = self.word(2).map(str::to_string) else {
                    return Err(format!("{w} of: a name pattern or `them` must follow"));
                };
                self.at += 3;
                let chosen: Vec<Cond> = self
                    .names
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| {
                        if target.eq_ignore_ascii_case("them") {
                            !n.starts_with('_')
                        } else {
                            fits(&target, n)
                        }
                    })
                    .map(|(i, _)| Cond::Search(i))
                    .collect();
                if chosen.is_empty() {
                    return Err(format!("{w} of {target}: names no search identifier"));
                }
                Ok(if all { Cond::And(chosen) } else { Cond::Or(chosen) })
            }
            Some(Tok::Word(w)) => {
                let reserved = ["and", "or", "not", "of"];
                if reserved.iter().any(|r| w.eq_ignore_ascii_case(r)) {
                    return Err(format!("{w:?} where a search identifier belongs"));
                }
                let i = self.names.iter().position(|n| *n == w).ok_or_else(|| {
                    format!("{w:?} in the condition names no search identifier of the detection")
                })?;
                self.at += 1;
                Ok(Cond::Search(i))
            }
            Some(t) => Err(format!("unexpected {} in the condition", show(&t))),
            None => Err("the condition ends too early".into()),
        }
    }
}
