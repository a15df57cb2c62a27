//! `#[orm(max_digits = P, decimal_places = S)]` of a decimal field.

use crate::attr::Spanned;
use crate::ctx::Errors;

/// The largest precision and scale every backend accepts (MySQL's
/// `DECIMAL(65, 30)`; PostgreSQL goes to 1000).
const MAX_DIGITS: u32 = 65;
const MAX_DECIMAL_PLACES: u32 = 30;

/// `(max_digits, decimal_places)`, both given or neither.
/// `Some(None)` is an attribute given with a value that was not an
/// integer (already reported).
pub fn attrs(
    max_digits: Option<Option<Spanned<u32>>>,
    decimal_places: Option<Option<Spanned<u32>>>,
    errors: &mut Errors,
) -> Option<(u32, u32)> {
    let (Some(max_digits), Some(decimal_places)) = (max_digits.clone(), decimal_places.clone())
    else {
        return pair(max_digits.flatten(), decimal_places.flatten(), errors);
    };
    pair(Some(max_digits?), Some(decimal_places?), errors)
}

fn pair(
    max_digits: Option<Spanned<u32>>,
    decimal_places: Option<Spanned<u32>>,
    errors: &mut Errors,
) -> Option<(u32, u32)> {
    match (max_digits, decimal_places) {
        (None, None) => None,
        (Some(d), None) => {
            errors.push(d.span, "`max_digits` needs `decimal_places` too: `#[orm(max_digits = 10, decimal_places = 2)]`");
            None
        }
        (None, Some(p)) => {
            errors.push(p.span, "`decimal_places` needs `max_digits` too: `#[orm(max_digits = 10, decimal_places = 2)]`");
            None
        }
        (Some(d), Some(p)) => {
            let mut ok = true;
            if d.value == 0 || d.value > MAX_DIGITS {
                errors.push(
                    d.span,
                    format!("`max_digits` must be between 1 and {MAX_DIGITS} (MySQL's limit)"),
                );
                ok = false;
            }
            if p.value > MAX_DECIMAL_PLACES || p.value > d.value {
                errors.push(
                    p.span,
                    format!("`decimal_places` must be at most `max_digits` ({}) and at most {MAX_DECIMAL_PLACES} (MySQL's limit)", d.value),
                );
                ok = false;
            }
            ok.then_some((d.value, p.value))
        }
    }
}
