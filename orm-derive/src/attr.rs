//! Parsing `#[orm(...)]` attributes into raw, spanned values.
//!
//! Nothing here knows what a model is; `ast` decides what the values mean.

use proc_macro2::Span;
use syn::{Attribute, LitInt, LitStr, Token};

use crate::ctx::Errors;

/// Keys accepted on the struct.
pub const STRUCT_KEYS: &[&str] = &[
    "table",
    "module",
    "ordering",
    "unique_together",
    "fetch_mode",
    "renamed_from",
];
/// Keys accepted on a field.
pub const FIELD_KEYS: &[&str] = &[
    "primary_key",
    "column",
    "unique",
    "index",
    "max_length",
    "max_digits",
    "decimal_places",
    "uuid",
    "choices",
    "skip",
    "null",
    "to_field",
    "on_delete",
    "reverse_of",
    "through",
    "through_table",
    "through_fields",
    "fetch_mode",
    "default",
    "renamed_from",
];

/// A string value with the span of its literal.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// One `#[orm(...)]` entry: a flag (`unique`) or a `key = value` pair.
#[derive(Debug)]
pub struct Entry {
    pub key: syn::Ident,
    pub value: Option<Value>,
}

#[derive(Debug)]
pub enum Value {
    Str(LitStr),
    Int(LitInt),
    /// Anything else (`table = foo`, `max_length = -1`): kept so the key
    /// can say what it takes, pointing at the value.
    Other(syn::Expr),
}

impl Value {
    /// An error spanning the whole value.
    fn error(&self, message: impl std::fmt::Display) -> syn::Error {
        match self {
            Value::Str(lit) => syn::Error::new(lit.span(), message),
            Value::Int(lit) => syn::Error::new(lit.span(), message),
            Value::Other(expr) => syn::Error::new_spanned(expr, message),
        }
    }
}

impl Entry {
    pub fn span(&self) -> Span {
        self.key.span()
    }

    /// Reports `message` at the value if there is one, else at the key.
    fn wrong_value(&self, message: String, errors: &mut Errors) {
        match &self.value {
            Some(value) => errors.push_syn(value.error(message)),
            None => errors.push(self.span(), message),
        }
    }

    /// The string value, or an error saying the key needs one.
    pub fn string(&self, errors: &mut Errors) -> Option<Spanned<String>> {
        match &self.value {
            Some(Value::Str(lit)) => Some(Spanned {
                value: lit.value(),
                span: lit.span(),
            }),
            _ => {
                self.wrong_value(
                    format!("`{}` takes a string: `{} = \"...\"`", self.key, self.key),
                    errors,
                );
                None
            }
        }
    }

    /// The integer value, or an error saying the key needs one.
    pub fn int(&self, errors: &mut Errors) -> Option<Spanned<u32>> {
        match &self.value {
            Some(Value::Int(lit)) => match lit.base10_parse::<u32>() {
                Ok(value) => Some(Spanned {
                    value,
                    span: lit.span(),
                }),
                Err(e) => {
                    let message = if lit.base10_digits().starts_with('-') {
                        format!(
                            "`{}` takes a positive integer: `{} = 100`",
                            self.key, self.key
                        )
                    } else {
                        format!(
                            "`{}` takes a positive integer up to {}: {e}",
                            self.key,
                            u32::MAX
                        )
                    };
                    errors.push(lit.span(), message);
                    None
                }
            },
            _ => {
                self.wrong_value(
                    format!(
                        "`{}` takes a positive integer: `{} = 100`",
                        self.key, self.key
                    ),
                    errors,
                );
                None
            }
        }
    }

    /// Checks that the entry is a bare flag.
    pub fn flag(&self, errors: &mut Errors) -> bool {
        if self.value.is_some() {
            self.wrong_value(
                format!(
                    "`{}` is a flag and takes no value: `#[orm({})]`",
                    self.key, self.key
                ),
                errors,
            );
            return false;
        }
        true
    }
}

/// Parses every `#[orm(...)]` in `attrs` into entries, checking each key
/// against `accepted`; `other` names the keys of the other place (struct or
/// field) so a key on the wrong item gets a precise message.
pub fn parse(
    attrs: &[Attribute],
    accepted: &[&str],
    place: &str,
    other: (&[&str], &str),
    errors: &mut Errors,
) -> Vec<Entry> {
    let mut entries = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("orm")) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().cloned().ok_or_else(|| {
                meta.error(format!(
                    "expected a key; accepted on {place}: {}",
                    accepted.join(", ")
                ))
            })?;
            let value = if meta.input.peek(Token![=]) {
                let value = meta.value()?;
                if value.peek(LitStr) {
                    Some(Value::Str(value.parse()?))
                } else if value.peek(LitInt) {
                    Some(Value::Int(value.parse()?))
                } else {
                    Some(Value::Other(value.parse()?))
                }
            } else {
                None
            };
            let name = key.to_string();
            if accepted.contains(&name.as_str()) {
                if entries.iter().any(|e: &Entry| e.key == key) {
                    // The last one would win silently (a second
                    // `unique_together` set lost without a word).
                    errors.push(
                        key.span(),
                        format!("`{name}` is given twice on {place}; give it once"),
                    );
                } else {
                    entries.push(Entry { key, value });
                }
            } else if other.0.contains(&name.as_str()) {
                errors.push(
                    key.span(),
                    format!(
                        "`{name}` belongs on {}, not on {place}; accepted on {place}: {}",
                        other.1,
                        accepted.join(", ")
                    ),
                );
            } else {
                errors.push(
                    key.span(),
                    format!(
                        "unknown attribute `{name}`; accepted on {place}: {}",
                        accepted.join(", ")
                    ),
                );
            }
            Ok(())
        });
        if let Err(e) = parsed {
            errors.push_syn(e);
        }
    }
    entries
}
