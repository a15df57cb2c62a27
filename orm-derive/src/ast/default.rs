//! `#[orm(default = ...)]`: a column's database default, a literal of the
//! field's type.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Expr, ExprLit, ExprUnary, Lit, UnOp};

use crate::attr::{Entry, Value};
use crate::ctx::Errors;
use crate::types::SqlKind;

/// What each field type accepts, for the error message.
const ACCEPTED: &str = "an integer literal on integer fields (`default = 0`), a number on f32/f64 \
     (`default = 1.5`), `true`/`false` on bool, a string on String (`default = \"draft\"`)";

/// The `ColumnDefault` expression for `entry` on a field of `kind`, or an
/// error at the value saying what the field accepts.
pub fn parse(
    entry: &Entry,
    kind: SqlKind,
    field: &str,
    errors: &mut Errors,
) -> Option<TokenStream> {
    let Some(value) = &entry.value else {
        errors.push(entry.span(), format!("`default` takes a value: {ACCEPTED}"));
        return None;
    };
    let (lit, negative) = match value {
        Value::Str(lit) => (Lit::Str(lit.clone()), false),
        Value::Int(lit) => (Lit::Int(lit.clone()), false),
        Value::Other(Expr::Lit(ExprLit { lit, .. })) => (lit.clone(), false),
        Value::Other(Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        })) => match &**expr {
            Expr::Lit(ExprLit { lit, .. }) => (lit.clone(), true),
            other => return wrong(errors, other, kind, field),
        },
        Value::Other(other) => return wrong(errors, other, kind, field),
    };
    let sign = if negative { "-" } else { "" };
    match (&lit, kind) {
        (Lit::Int(n), k) if k.is_integer() => {
            let parsed = format!("{sign}{}", n.base10_digits()).parse::<i64>();
            let (min, max) = match k {
                SqlKind::SmallInt => (i16::MIN as i64, i16::MAX as i64),
                SqlKind::Integer => (i32::MIN as i64, i32::MAX as i64),
                _ => (i64::MIN, i64::MAX),
            };
            match parsed {
                Ok(v) if (min..=max).contains(&v) => {
                    Some(quote!(::orm_core::ColumnDefault::Int(#v)))
                }
                _ => {
                    errors.push(
                        n.span(),
                        format!("`default` is out of range for `{field}` ({min} to {max})"),
                    );
                    None
                }
            }
        }
        (Lit::Int(_) | Lit::Float(_), SqlKind::Float | SqlKind::Double) => {
            let digits = match &lit {
                Lit::Int(n) => n.base10_digits(),
                Lit::Float(x) => x.base10_digits(),
                _ => "",
            };
            let f32_field = kind == SqlKind::Float;
            match digits.parse::<f64>() {
                Ok(v) if !v.is_finite() || (f32_field && v.abs() > f64::from(f32::MAX)) => {
                    let ty = if f32_field { "f32" } else { "f64" };
                    errors.push(
                        lit.span(),
                        format!("`default` is out of range for `{field}` (a finite {ty})"),
                    );
                    None
                }
                Ok(v) => {
                    let v = if negative { -v } else { v };
                    Some(quote!(::orm_core::ColumnDefault::Float(#v)))
                }
                Err(e) => {
                    errors.push(lit.span(), e);
                    None
                }
            }
        }
        (Lit::Bool(b), SqlKind::Bool) if !negative => {
            let v = b.value;
            Some(quote!(::orm_core::ColumnDefault::Bool(#v)))
        }
        (Lit::Str(s), SqlKind::Text) if !negative => {
            let v = s.value();
            Some(quote!(::orm_core::ColumnDefault::Text(#v)))
        }
        _ => wrong(errors, &lit, kind, field),
    }
}

/// A text `default` longer than the field's `max_length` (in characters,
/// as the databases count): no row could keep it.
pub fn check_length(entry: &Entry, max_length: u32, errors: &mut Errors) {
    if let Some(Value::Str(lit)) = &entry.value {
        let length = lit.value().chars().count();
        if length > max_length as usize {
            errors.push(
                lit.span(),
                format!("this `default` is {length} characters long, over the field's `max_length = {max_length}`; shorten it or raise `max_length`"),
            );
        }
    }
}

fn wrong(
    errors: &mut Errors,
    value: impl quote::ToTokens,
    kind: SqlKind,
    field: &str,
) -> Option<TokenStream> {
    let message = if matches!(
        kind,
        SqlKind::SmallInt
            | SqlKind::Integer
            | SqlKind::BigInt
            | SqlKind::Float
            | SqlKind::Double
            | SqlKind::Bool
            | SqlKind::Text
    ) {
        format!("this `default` does not fit `{field}`; accepted: {ACCEPTED}")
    } else {
        format!(
            "`default` applies to integer, f32/f64, bool and String fields, and `{field}` is none of them"
        )
    };
    errors.push_spanned(value, message);
    None
}
