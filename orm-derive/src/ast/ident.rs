//! Names: those the derive reads from attribute strings, as identifiers
//! (raw ones for keywords: `r#type`), and the snake_case ones it makes
//! from Rust names (tables, enum values).

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

/// `PollQuestion` -> `poll_question`.
pub(crate) fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake() {
        assert_eq!(snake_case("Question"), "question");
        assert_eq!(snake_case("PollQuestion"), "poll_question");
        assert_eq!(snake_case("HTTPRequest"), "http_request");
        assert_eq!(snake_case("Order2Item"), "order2_item");
    }
}
