//! A field holding a `#[derive(OrmEnum)]` enum: `#[orm(choices)]`.

use syn::Type;

use super::{nonempty, Column, ColumnType, Field, FieldKind};
use crate::attr::Entry;
use crate::ctx::Errors;
use crate::types::{classify, option_inner};

/// The column of an `#[orm(choices)]` field (`Status` or `Option<Status>`).
pub fn parse(
    field: &syn::Field,
    ident: &syn::Ident,
    entries: &[Entry],
    errors: &mut Errors,
) -> Option<Field> {
    let (inner, nullable) = match option_inner(&field.ty) {
        Some(inner) => (inner.clone(), true),
        None => (field.ty.clone(), false),
    };
    let shown = |ty: &Type| {
        quote::ToTokens::to_token_stream(ty)
            .to_string()
            .replace(' ', "")
    };
    if classify(&inner).is_some() || !matches!(inner, Type::Path(_)) {
        errors.push_spanned(
            &field.ty,
            format!(
                "`choices` applies to fields whose type is a #[derive(OrmEnum)] enum (or an Option of one), and `{ident}` is `{}`",
                shown(&field.ty)
            ),
        );
        return None;
    }
    let mut column = Column {
        name: ident.to_string().trim_start_matches("r#").to_owned(),
        rust_name: ident.clone(),
        sql: ColumnType::Enum(Box::new(inner), false),
        relation: None,
        value_ty: field.ty.clone(),
        nullable,
        primary_key: false,
        auto_increment: false,
        unique: false,
        index: false,
        max_length: None,
        decimal: None,
        generated: None,
        pk_span: None,
        default: None,
        renamed_from: None,
    };
    for entry in entries {
        match entry.key.to_string().as_str() {
            "choices" => {
                if entry.value.is_some() {
                    if let Some(s) = entry.string(errors) {
                        match s.value.as_str() {
                            "text" => {}
                            "integer" => {
                                if let ColumnType::Enum(_, integer) = &mut column.sql {
                                    *integer = true;
                                }
                            }
                            other => errors.push(
                                s.span,
                                format!("unknown storage `{other}`; accepted: #[orm(choices)] or #[orm(choices = \"text\")] (the variants' texts), #[orm(choices = \"integer\")] (their discriminants)"),
                            ),
                        }
                    }
                }
            }
            "column" => {
                if let Some(s) = nonempty(entry, errors) {
                    column.name = s.value;
                }
            }
            "unique" => column.unique = entry.flag(errors),
            "index" => column.index = entry.flag(errors),
            "renamed_from" => column.renamed_from = nonempty(entry, errors).map(|s| s.value),
            key => errors.push(
                entry.span(),
                format!("`{key}` does not apply to a `choices` field; accepted there: choices, column, unique, index, renamed_from"),
            ),
        }
    }
    Some(Field {
        ident: ident.clone(),
        ty: field.ty.clone(),
        kind: FieldKind::Column(Box::new(column)),
    })
}
