//! Rules across fields, checked once the struct is parsed: one primary
//! key, distinct column names, at most 128 columns, unambiguous reverse
//! sides, and attributes that name fields (`ordering`, `unique_together`).
//! Every problem is pushed to `errors`; nothing stops at the first.

use crate::ast::{Column, Field, FieldKind, Model, Order, Reverse};
use crate::ctx::Errors;

/// diesel's largest table, with its `128-column-tables` feature. The
/// derive cannot see which of diesel's `32-`, `64-` or `128-column-tables`
/// features the application turned on (cargo unifies them in the app's
/// diesel), so it accepts up to 128 columns and leaves a narrower limit to
/// `diesel::table!`, whose error names the feature to turn on.
pub const MAX_COLUMNS: usize = 128;

/// Checks `model`, and resolves its `ordering` and `unique_together`
/// attributes into the fields they name (dropping the terms in error).
pub fn check(model: &mut Model, errors: &mut Errors) {
    primary_key(model, errors);
    accessor_names(model, errors);
    reverse_names(model, errors);
    columns(model, errors);
    ordering(model, errors);
    unique_together(model, errors);
}

fn primary_key(model: &Model, errors: &mut Errors) {
    // Primary key: exactly one field marked #[orm(primary_key)].
    let pks: Vec<(&Field, &Column)> = model.columns().filter(|(_, c)| c.primary_key).collect();
    for (field, column) in pks.iter().skip(1) {
        errors.push(
            column.pk_span.unwrap_or_else(|| field.ident.span()),
            format!(
                "a model has exactly one primary key, and `{}` already is it; remove #[orm(primary_key)] from `{}`",
                pks[0].0.ident, field.ident
            ),
        );
    }
    if pks.is_empty() {
        errors.push(
            model.ident.span(),
            "a model needs a primary key: mark one field #[orm(primary_key)], like `#[orm(primary_key)] id: Option<i64>` for an auto-increment key",
        );
    }
}

fn accessor_names(model: &Model, errors: &mut Errors) {
    // A relation's accessor is a method named after it, beside the
    // generated `objects()`.
    for field in model.fields.iter().filter(|f| f.is_relation()) {
        if field.ident == "objects" {
            errors.push(
                field.ident.span(),
                "a relation field named `objects` would clash with the generated `objects()` queryset; rename the field",
            );
        }
    }
}

fn reverse_names(model: &Model, errors: &mut Errors) {
    // Two reverse fields cannot reverse the same relation of the same model.
    let reverses: Vec<(&Field, &Reverse)> = model
        .fields
        .iter()
        .filter_map(|f| match &f.kind {
            FieldKind::Reverse(r)
            | FieldKind::ReverseOneToOne(r)
            | FieldKind::ReverseManyToMany(r) => Some((f, &**r)),
            _ => None,
        })
        .collect();
    for (i, (field, r)) in reverses.iter().enumerate() {
        let same = |(_, o): &&(&Field, &Reverse)| {
            o.fk_field == r.fk_field
                && quote::ToTokens::to_token_stream(&o.child).to_string()
                    == quote::ToTokens::to_token_stream(&r.child).to_string()
        };
        if let Some((first, _)) = reverses[..i].iter().find(same) {
            errors.push(
                r.fk_field.span(),
                format!(
                    "conflicting reverse names: `{}` and `{}` both reverse `{}`; keep one of them",
                    first.ident, field.ident, r.fk_field
                ),
            );
        }
    }
}

/// Names `diesel::table!` gives items of the table module and its
/// `columns` module: a column named so clashes with them.
const RESERVED_COLUMNS: [&str; 6] = ["table", "star", "columns", "dsl", "all_columns", "diesel"];

/// Whether diesel's table module would refuse `column` as a column name:
/// it is named like the module, or like an item `diesel::table!` makes.
pub fn clashes_with_table(column: &Column, module: &syn::Ident) -> bool {
    let name = column.rust_name.to_string();
    let name = name.trim_start_matches("r#");
    name == module.to_string().trim_start_matches("r#") || RESERVED_COLUMNS.contains(&name)
}

fn columns(model: &Model, errors: &mut Errors) {
    // Column names are unique, and there are at most 128 (diesel's limit).
    let columns: Vec<(&Field, &Column)> = model.columns().collect();
    if let Some((field, _)) = columns.get(MAX_COLUMNS) {
        errors.push(
            field.ident.span(),
            format!("a model maps at most {MAX_COLUMNS} columns (diesel's limit, with its `128-column-tables` feature); mark extra fields #[orm(skip)] or split the model"),
        );
    }
    let module = model.module.to_string();
    for (i, (field, column)) in columns.iter().enumerate() {
        if column.rust_name == module.trim_start_matches("r#") {
            errors.push(
                field.ident.span(),
                format!(
                    "field `{}` becomes the diesel column `{}`, named like the table module, which diesel refuses; name the module with #[orm(module = \"...\")]",
                    field.ident, column.rust_name
                ),
            );
        }
        let rust_name = column.rust_name.to_string();
        if RESERVED_COLUMNS.contains(&rust_name.trim_start_matches("r#")) {
            errors.push(
                field.ident.span(),
                format!(
                    "field `{}` becomes the diesel column `{}`, a name diesel's table module uses itself ({}); rename the field and keep the column's name with #[orm(column = \"{}\")]",
                    field.ident,
                    column.rust_name,
                    RESERVED_COLUMNS.join(", "),
                    column.name
                ),
            );
        }
        // The diesel column name too: a foreign key `author` is `author_id`.
        if let Some((first, _)) = columns[..i]
            .iter()
            .find(|(_, c)| c.rust_name == column.rust_name && c.name != column.name)
        {
            errors.push(
                field.ident.span(),
                format!(
                    "field `{}` and field `{}` both become the diesel column `{}`; rename one of the fields",
                    first.ident, field.ident, column.rust_name
                ),
            );
        }
        if let Some((first, _)) = columns[..i].iter().find(|(_, c)| c.name == column.name) {
            errors.push(
                field.ident.span(),
                format!(
                    "column `{}` is already used by field `{}`; give one of them another name with #[orm(column = \"...\")]",
                    column.name, first.ident
                ),
            );
        }
    }
}

fn ordering(model: &mut Model, errors: &mut Errors) {
    let columns: Vec<(&Field, &Column)> = model.columns().collect();
    // Ordering terms name stored fields.
    if let Some(ordering) = &model.ordering_attr {
        let mut terms = Vec::new();
        for raw in ordering.value.split(',') {
            let raw = raw.trim();
            let (descending, name) = match raw.strip_prefix('-') {
                Some(rest) => (true, rest.trim()),
                None => (false, raw),
            };
            let known = columns.iter().any(|(f, _)| f.ident == name);
            if name.is_empty() {
                errors.push(
                    ordering.span,
                    "empty ordering term: write a comma-separated list of stored fields, each optionally prefixed with `-`, like \"-pub_date, id\"",
                );
                continue;
            }
            if !known {
                let fields: Vec<String> =
                    columns.iter().map(|(f, _)| f.ident.to_string()).collect();
                errors.push(
                    ordering.span,
                    format!(
                        "bad ordering term `{raw}`: expected a comma-separated list of stored fields, each optionally prefixed with `-` for descending (like \"-pub_date, id\"); fields are: {}",
                        fields.join(", ")
                    ),
                );
                continue;
            }
            terms.push(Order {
                field: name.to_owned(),
                descending,
                span: ordering.span,
            });
        }
        model.ordering = terms;
    }
}

fn unique_together(model: &mut Model, errors: &mut Errors) {
    if let Some(lit) = &model.unique_together_attr {
        let mut names = Vec::new();
        for name in lit.value.split(',').map(str::trim) {
            if names.iter().any(|n| n == name) {
                errors.push(
                    lit.span,
                    format!("`unique_together` names `{name}` twice; name each field once"),
                );
            } else if model.columns().any(|(f, _)| f.ident == name) {
                names.push(name.to_owned());
            } else {
                let stored: Vec<String> =
                    model.columns().map(|(f, _)| f.ident.to_string()).collect();
                errors.push(
                    lit.span,
                    format!(
                        "`unique_together` names stored fields separated by commas; `{name}` is not one (stored fields: {})",
                        stored.join(", ")
                    ),
                );
            }
        }
        model.unique_together = names;
    }
}
