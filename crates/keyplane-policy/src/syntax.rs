//! Which of the two policy document syntaxes a document is written in. Its own module because
//! both the common form (conditions name their operators and keys per syntax) and the documents
//! (parsing and rendering) depend on it, while the documents depend on the common form.

/// A policy document syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Syntax {
    /// Alibaba Cloud RAM: `"Version": "1"`.
    Ram,
    /// Tencent Cloud CAM: `"version": "2.0"`.
    Cam,
}
