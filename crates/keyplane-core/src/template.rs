//! Command templates: how an operator says which program reaches a shell (or the log) inside an
//! EAS worker, e.g. `kubectl exec -it {instance} -c {worker} -- /bin/sh`.
//!
//! A template is split into words once, when it is registered, and stored as those words; at
//! use, each word has its placeholders substituted and the result is an argument vector to
//! execute directly. No shell ever sees a client-supplied value: the only values substituted are
//! the registry's own names, which [`crate::rules::check_eas_name`] restricts to
//! `[A-Za-z0-9][A-Za-z0-9._-]{0,127}` (no spaces, quotes, `$`, `/`, and never a leading `-`).
//!
//! Splitting, like a POSIX shell without any expansion:
//! * unquoted ASCII whitespace separates words;
//! * `'…'` keeps everything inside as it is;
//! * `"…"` keeps everything inside, except that `\"` and `\\` stand for `"` and `\`;
//! * outside quotes, a backslash keeps the next character as it is;
//! * `''` or `""` alone make an empty word;
//! * `|`, `;`, `&`, `$`, `*`, `>` … are ordinary characters: there is no shell. An operator
//!   who wants one writes it into the template (`sh -c '…'`).
//!
//! Placeholders, in every word and inside quotes too: `{cluster}`, `{service}`, `{instance}`,
//! `{worker}`; `{{` and `}}` are literal braces; any other brace is an error. The first word
//! (the program) must be non-empty and may not contain a placeholder. A template is at most
//! [`MAX_TEMPLATE_BYTES`] bytes and [`MAX_TEMPLATE_WORDS`] words, and may not contain NUL.

/// The longest template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 4096;
/// The most words a template may have.
pub const MAX_TEMPLATE_WORDS: usize = 128;

/// A value a template can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Cluster,
    Service,
    Instance,
    Worker,
}

impl Placeholder {
    /// Every placeholder.
    pub const ALL: [Placeholder; 4] = [
        Placeholder::Cluster,
        Placeholder::Service,
        Placeholder::Instance,
        Placeholder::Worker,
    ];

    /// The name written between braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Cluster => "cluster",
            Placeholder::Service => "service",
            Placeholder::Instance => "instance",
            Placeholder::Worker => "worker",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|placeholder| placeholder.name() == name)
    }
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template is empty")]
    Empty,
    #[error("the template is longer than {limit} bytes")]
    TooLong { limit: usize },
    #[error("the template has more than {limit} words")]
    TooManyWords { limit: usize },
    #[error("the template contains a NUL character")]
    NulCharacter,
    #[error("a quote is not closed")]
    UnterminatedQuote,
    #[error("the template ends with a lone backslash")]
    TrailingBackslash,
    #[error("unknown placeholder {{{0}}} (known: {{cluster}}, {{service}}, {{instance}}, {{worker}}; write {{{{ and }}}} for literal braces)")]
    UnknownPlaceholder(String),
    #[error("a {{ is not closed by }} (write {{{{ for a literal brace)")]
    UnclosedPlaceholder,
    #[error("a }} does not close a placeholder (write }}}} for a literal brace)")]
    UnmatchedClosingBrace,
    #[error("the program (the first word) must be non-empty and contain no placeholder")]
    ProgramNotFixed,
}

/// One piece of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder(Placeholder),
}

/// One word: its stored form (template syntax) and its pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    source: String,
    segments: Vec<Segment>,
}

impl Word {
    fn parse(source: String) -> Result<Self, TemplateError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut characters = source.chars().peekable();
        while let Some(character) = characters.next() {
            match character {
                '{' if characters.peek() == Some(&'{') => {
                    characters.next();
                    literal.push('{');
                }
                '}' if characters.peek() == Some(&'}') => {
                    characters.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::UnmatchedClosingBrace),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match characters.next() {
                            Some('}') => break,
                            Some('{') | None => return Err(TemplateError::UnclosedPlaceholder),
                            Some(inner) => name.push(inner),
                        }
                    }
                    let placeholder =
                        Placeholder::parse(&name).ok_or(TemplateError::UnknownPlaceholder(name))?;
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Placeholder(placeholder));
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Self { source, segments })
    }

    fn has_placeholder(&self) -> bool {
        self.segments
            .iter()
            .any(|segment| matches!(segment, Segment::Placeholder(_)))
    }
}

/// The values substituted into a template.
#[derive(Debug, Clone, Copy)]
pub struct TemplateValues<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    pub instance: &'a str,
    pub worker: &'a str,
}

impl TemplateValues<'_> {
    fn value(&self, placeholder: Placeholder) -> &str {
        match placeholder {
            Placeholder::Cluster => self.cluster,
            Placeholder::Service => self.service,
            Placeholder::Instance => self.instance,
            Placeholder::Worker => self.worker,
        }
    }
}

/// A command template, split into words (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTemplate {
    words: Vec<Word>,
}

impl CommandTemplate {
    /// Splits an operator's template text into words and checks its placeholders.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLong {
                limit: MAX_TEMPLATE_BYTES,
            });
        }
        Self::from_words(split_words(text)?)
    }

    /// A template from its stored words (each in template syntax, already split).
    pub fn from_words(words: Vec<String>) -> Result<Self, TemplateError> {
        if words.is_empty() {
            return Err(TemplateError::Empty);
        }
        if words.len() > MAX_TEMPLATE_WORDS {
            return Err(TemplateError::TooManyWords {
                limit: MAX_TEMPLATE_WORDS,
            });
        }
        if words.iter().map(String::len).sum::<usize>() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLong {
                limit: MAX_TEMPLATE_BYTES,
            });
        }
        if words.iter().any(|word| word.contains('\0')) {
            return Err(TemplateError::NulCharacter);
        }
        let words = words
            .into_iter()
            .map(Word::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let program = &words[0];
        if program.segments.is_empty() || program.has_placeholder() {
            return Err(TemplateError::ProgramNotFixed);
        }
        Ok(Self { words })
    }

    /// The words as stored: template syntax, one string per argument.
    pub fn words(&self) -> Vec<String> {
        self.words.iter().map(|word| word.source.clone()).collect()
    }

    /// The placeholders the template uses, in order of first use.
    pub fn placeholders(&self) -> Vec<Placeholder> {
        let mut used = Vec::new();
        for segment in self.words.iter().flat_map(|word| &word.segments) {
            if let Segment::Placeholder(placeholder) = segment {
                if !used.contains(placeholder) {
                    used.push(*placeholder);
                }
            }
        }
        used
    }

    /// The argument vector: every word with its placeholders replaced by `values`.
    pub fn expand(&self, values: &TemplateValues<'_>) -> Vec<String> {
        self.words
            .iter()
            .map(|word| {
                let mut argument = String::new();
                for segment in &word.segments {
                    match segment {
                        Segment::Literal(text) => argument.push_str(text),
                        Segment::Placeholder(placeholder) => {
                            argument.push_str(values.value(*placeholder))
                        }
                    }
                }
                argument
            })
            .collect()
    }
}

/// Splits `text` into words by the quoting rules of the module documentation; braces are left
/// as they are for [`Word::parse`].
fn split_words(text: &str) -> Result<Vec<String>, TemplateError> {
    #[derive(PartialEq)]
    enum Quote {
        None,
        Single,
        Double,
    }
    let mut words = Vec::new();
    let mut current = String::new();
    // Whether a word has begun (an empty quoted string is a word).
    let mut in_word = false;
    let mut quote = Quote::None;
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        match quote {
            Quote::Single => match character {
                '\'' => quote = Quote::None,
                other => current.push(other),
            },
            Quote::Double => match character {
                '"' => quote = Quote::None,
                '\\' => match characters.next() {
                    Some(escaped @ ('"' | '\\')) => current.push(escaped),
                    Some(other) => {
                        current.push('\\');
                        current.push(other);
                    }
                    None => return Err(TemplateError::UnterminatedQuote),
                },
                other => current.push(other),
            },
            Quote::None => match character {
                '\'' => {
                    quote = Quote::Single;
                    in_word = true;
                }
                '"' => {
                    quote = Quote::Double;
                    in_word = true;
                }
                '\\' => {
                    let escaped = characters.next().ok_or(TemplateError::TrailingBackslash)?;
                    current.push(escaped);
                    in_word = true;
                }
                whitespace if whitespace.is_ascii_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut current));
                        in_word = false;
                    }
                }
                other => {
                    current.push(other);
                    in_word = true;
                }
            },
        }
    }
    if quote != Quote::None {
        return Err(TemplateError::UnterminatedQuote);
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}
