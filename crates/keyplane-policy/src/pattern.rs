//! Glob patterns: actions, resources and `StringLike` values.
//!
//! `*` matches any run of characters (the empty run included) and `?` exactly one character;
//! there is no escape. A pattern is split into tokens once, when the policy is parsed or
//! deserialised, and matched by the classic single-backtrack algorithm (linear in practice,
//! O(pattern × text) at worst, never exponential) without allocating.
//!
//! Action patterns compare ASCII letters case-insensitively; resource and `StringLike` patterns
//! are case-sensitive. Resource patterns may hold the variables `${AccountId}`, `${Uin}` and
//! `${UserName}` (names compared case-insensitively), replaced at evaluation by the request's
//! values; a variable whose request value is empty never matches, so a policy written for a
//! sub-user cannot match by accident for a caller without a user name.

use std::fmt;

use crate::error::{excerpt, PolicyError};

/// What a pattern is used for, which decides case sensitivity and whether variables exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatternKind {
    Action,
    Resource,
    Like,
}

/// A variable of a resource pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variable {
    AccountId,
    Uin,
    UserName,
}

impl Variable {
    fn from_name(name: &str) -> Option<Variable> {
        [
            ("AccountId", Variable::AccountId),
            ("Uin", Variable::Uin),
            ("UserName", Variable::UserName),
        ]
        .into_iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, variable)| variable)
    }
}

/// The request's values for the variables.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bindings<'a> {
    pub account_id: &'a str,
    pub uin: &'a str,
    pub user_name: &'a str,
}

impl<'a> Bindings<'a> {
    fn value(&self, variable: Variable) -> &'a str {
        match variable {
            Variable::AccountId => self.account_id,
            Variable::Uin => self.uin,
            Variable::UserName => self.user_name,
        }
    }
}

#[derive(Clone, Debug)]
enum Token {
    Literal(Box<str>),
    AnyRun,
    AnyOne,
    Variable(Variable),
}

/// A compiled glob pattern. Two patterns are equal when they were written the same way for the
/// same use.
#[derive(Clone)]
pub struct Pattern {
    source: Box<str>,
    kind: PatternKind,
    tokens: Box<[Token]>,
    matches_everything: bool,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.kind == other.kind && self.source == other.source
    }
}

impl Eq for Pattern {}

impl fmt::Debug for Pattern {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, formatter)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.source)
    }
}

impl Pattern {
    /// Compiles `source`; `statement` only labels errors.
    pub(crate) fn compile(
        source: &str,
        kind: PatternKind,
        statement: usize,
    ) -> Result<Pattern, PolicyError> {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        while let Some(character) = rest.chars().next() {
            if kind == PatternKind::Resource && rest.starts_with("${") {
                let Some(end) = rest.find('}') else {
                    return Err(PolicyError::UnknownVariable {
                        statement,
                        variable: excerpt(rest),
                    });
                };
                let name = &rest[2..end];
                let Some(variable) = Variable::from_name(name) else {
                    return Err(PolicyError::UnknownVariable {
                        statement,
                        variable: excerpt(&rest[..=end]),
                    });
                };
                flush(&mut literal, &mut tokens);
                tokens.push(Token::Variable(variable));
                rest = &rest[end + 1..];
                continue;
            }
            match character {
                '*' => {
                    flush(&mut literal, &mut tokens);
                    if !matches!(tokens.last(), Some(Token::AnyRun)) {
                        tokens.push(Token::AnyRun);
                    }
                }
                '?' => {
                    flush(&mut literal, &mut tokens);
                    tokens.push(Token::AnyOne);
                }
                other => literal.push(other),
            }
            rest = &rest[character.len_utf8()..];
        }
        flush(&mut literal, &mut tokens);
        let matches_everything = matches!(tokens.as_slice(), [Token::AnyRun]);
        Ok(Pattern {
            source: source.into(),
            kind,
            tokens: tokens.into_boxed_slice(),
            matches_everything,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `text` matches, with the variables bound to `bindings`.
    pub(crate) fn matches(&self, text: &str, bindings: &Bindings<'_>) -> bool {
        if self.matches_everything {
            return true;
        }
        let ignore_case = self.kind == PatternKind::Action;
        let text = text.as_bytes();
        let mut token_index = 0;
        let mut position = 0;
        // After a `*`: the token that follows it and the text position it was tried at.
        let mut backtrack: Option<(usize, usize)> = None;
        loop {
            if let Some(token) = self.tokens.get(token_index) {
                let advanced = match token {
                    Token::AnyRun => {
                        if token_index + 1 == self.tokens.len() {
                            return true;
                        }
                        backtrack = Some((token_index + 1, position));
                        token_index += 1;
                        continue;
                    }
                    Token::AnyOne => match text.get(position) {
                        Some(&byte) => {
                            position = (position + utf8_width(byte)).min(text.len());
                            true
                        }
                        None => false,
                    },
                    Token::Literal(literal) => {
                        literal_at(text, position, literal.as_bytes(), ignore_case)
                            .map(|end| position = end)
                            .is_some()
                    }
                    Token::Variable(variable) => {
                        let value = bindings.value(*variable);
                        if value.is_empty() {
                            return false;
                        }
                        literal_at(text, position, value.as_bytes(), ignore_case)
                            .map(|end| position = end)
                            .is_some()
                    }
                };
                if advanced {
                    token_index += 1;
                    continue;
                }
            } else if position == text.len() {
                return true;
            }
            match backtrack {
                Some((resume, start)) if start < text.len() => {
                    let next = text.get(start).map_or(text.len(), |&byte| {
                        (start + utf8_width(byte)).min(text.len())
                    });
                    backtrack = Some((resume, next));
                    token_index = resume;
                    position = next;
                }
                _ => return false,
            }
        }
    }
}

fn flush(literal: &mut String, tokens: &mut Vec<Token>) {
    if !literal.is_empty() {
        tokens.push(Token::Literal(std::mem::take(literal).into_boxed_str()));
    }
}

/// The end of `literal` if it occurs in `text` at `position`.
fn literal_at(text: &[u8], position: usize, literal: &[u8], ignore_case: bool) -> Option<usize> {
    let end = position.checked_add(literal.len())?;
    let candidate = text.get(position..end)?;
    let equal = if ignore_case {
        candidate.eq_ignore_ascii_case(literal)
    } else {
        candidate == literal
    };
    equal.then_some(end)
}

/// The length of the UTF-8 sequence that starts with `byte`.
fn utf8_width(byte: u8) -> usize {
    match byte {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}
