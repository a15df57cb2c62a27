//! Error collection: every problem in the input is reported at once.

use proc_macro2::Span;
use std::fmt::Display;

/// Collects errors; `into_result` combines them into one `syn::Error`.
#[derive(Default)]
pub struct Errors {
    errors: Option<syn::Error>,
}

impl Errors {
    pub fn push(&mut self, span: Span, message: impl Display) {
        self.push_syn(syn::Error::new(span, message));
    }

    /// An error spanning all of `tokens` (a whole type, not its first token).
    pub fn push_spanned(&mut self, tokens: impl quote::ToTokens, message: impl Display) {
        self.push_syn(syn::Error::new_spanned(tokens, message));
    }

    pub fn push_syn(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(error),
            None => self.errors = Some(error),
        }
    }

    pub fn into_result(self) -> syn::Result<()> {
        match self.errors {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
