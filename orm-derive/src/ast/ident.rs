//! Names the derive reads from attribute strings, as identifiers (raw
//! ones for keywords: `r#type`).

use proc_macro2::Span;
use syn::Ident;

/// `value` as an identifier spanned at `span` (`"r#type"` a raw one);
/// `None` when it is not one (a keyword written without `r#`, a space).
pub(crate) fn ident_at(value: &str, span: Span) -> Option<Ident> {
    let name = syn::parse_str::<Ident>(value.trim()).ok()?.to_string();
    Some(match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, span),
        None => Ident::new(&name, span),
    })
}

/// The identifier of a field named `name` (a raw one for a keyword,
/// `type` as `r#type`).
pub(crate) fn field_ident(name: &str, span: Span) -> Ident {
    if syn::parse_str::<Ident>(name).is_ok() {
        Ident::new(name, span)
    } else {
        Ident::new_raw(name, span)
    }
}
