//! Relation fields: `ForeignKey` / `OneToOne` (stored in a column),
//! `ManyToMany` (through a link table) and the reverse sides (`Related`,
//! `ReverseOneToOne`, a `ManyToMany` with `reverse_of`).

use quote::format_ident;
use syn::spanned::Spanned as _;
use syn::{Ident, Type};

use super::{
    fetch_mode_value, ident_at, nonempty, Column, ColumnType, FieldKind, ManyToManyField, Relation,
    Reverse, Through,
};
use crate::attr::{Entry, Spanned};
use crate::ctx::Errors;
use crate::types::{classify, generic_args};

/// `Related<Child>` (or `ReverseOneToOne<Child>`, a reverse `ManyToMany`)
/// with `#[orm(reverse_of = "fk_field")]`.
pub(super) fn parse_reverse(
    ident: &Ident,
    ty: &Type,
    shape: &str,
    entries: &[Entry],
    errors: &mut Errors,
) -> Option<Box<Reverse>> {
    let args = generic_args(ty);
    let [child] = args.as_slice() else {
        errors.push_spanned(ty, format!("write the reverse side as {shape}"));
        return None;
    };
    if refuse_self(child, errors) {
        return None;
    }
    let mut fk_field = None;
    let mut given = false;
    for entry in entries {
        match entry.key.to_string().as_str() {
            "reverse_of" => {
                given = true;
                if let Some(s) = nonempty(entry, errors) {
                    match ident_at(&s.value, s.span) {
                        Some(i) => fk_field = Some(i),
                        None => errors.push(s.span, "`reverse_of` names the foreign-key field of the child model, like \"question\""),
                    }
                }
            }
            other => errors.push(
                entry.span(),
                format!("`{other}` does not apply to a reverse relation; accepted: reverse_of"),
            ),
        }
    }
    let Some(fk_field) = fk_field else {
        // A `reverse_of` given but not a name is reported already.
        if given {
            return None;
        }
        errors.push(
            ident.span(),
            format!("`{ident}` needs #[orm(reverse_of = \"...\")] naming the ForeignKey field of the child model it reverses"),
        );
        return None;
    };
    Some(Box::new(Reverse {
        child: (*child).clone(),
        fk_field,
    }))
}

/// A forward `ManyToMany<Target>` or `ManyToMany<Target, KeyType>`.
pub(super) fn parse_many_to_many(
    ty: &Type,
    entries: &[Entry],
    errors: &mut Errors,
) -> Option<FieldKind> {
    let args = generic_args(ty);
    let (target, key_ty) = match args.as_slice() {
        [target] => (
            (*target).clone(),
            syn::parse_quote_spanned!(target.span()=> i64),
        ),
        [target, key] => ((*target).clone(), (*key).clone()),
        _ => {
            errors.push_spanned(
                ty,
                "write a many-to-many as `ManyToMany<Target>` or `ManyToMany<Target, KeyType>`",
            );
            return None;
        }
    };
    if refuse_self(&target, errors) {
        return None;
    }
    let mut table = None;
    let mut through = None;
    let mut through_fields = None;
    let mut renamed_from = None;
    for entry in entries {
        match entry.key.to_string().as_str() {
            "through_table" => table = nonempty(entry, errors),
            "renamed_from" => renamed_from = nonempty(entry, errors),
            "through" => {
                if let Some(s) = nonempty(entry, errors) {
                    match syn::parse_str::<Type>(&s.value) {
                        Ok(t) => through = Some((t, s.span)),
                        Err(_) => errors.push(s.span, "`through` names a model type, like \"Membership\""),
                    }
                }
            }
            "through_fields" => {
                if let Some(s) = nonempty(entry, errors) {
                    let names: Vec<Option<Ident>> =
                        s.value.split(',').map(|name| ident_at(name, s.span)).collect();
                    match names.as_slice() {
                        [Some(a), Some(b)] => through_fields = Some((a.clone(), b.clone())),
                        _ => errors.push(
                            s.span,
                            "`through_fields` names the through model's foreign key to this model, then the one to the target: \"person, team\"",
                        ),
                    }
                }
            }
            other => errors.push(
                entry.span(),
                format!("`{other}` does not apply to a many-to-many; accepted: through_table, through, through_fields, renamed_from, reverse_of (on the other side)"),
            ),
        }
    }
    if let (Some(renamed), true) = (&renamed_from, through.is_some() || table.is_some()) {
        errors.push(
            renamed.span,
            "`renamed_from` on a many-to-many renames its generated through table (`<table>_<old field>`); a `through_table` or `through` model keeps its name when the field is renamed, so leave `renamed_from` out",
        );
        return None;
    }
    let through = match (through, table) {
        (Some((_, span)), Some(_)) => {
            errors.push(
                span,
                "give either `through` (a model) or `through_table` (a table name), not both",
            );
            return None;
        }
        (Some((ty, _)), None) => Through::Model {
            ty: Box::new(ty),
            fields: through_fields,
        },
        (None, table) => {
            if let Some((a, _)) = &through_fields {
                errors.push(a.span(), "`through_fields` needs `through = \"Model\"`");
            }
            Through::Auto {
                table: table.map(|t| t.value).unwrap_or_default(),
                renamed_from: renamed_from.map(|r| r.value),
            }
        }
    };
    Some(FieldKind::ManyToMany(Box::new(ManyToManyField {
        target,
        key_ty,
        through,
    })))
}

const ON_DELETE: &[(&str, &str)] = &[
    ("cascade", "Cascade"),
    ("set_null", "SetNull"),
    ("restrict", "Restrict"),
];

/// `ForeignKey<Target>` / `OneToOne<Target>` (or `<Target, KeyType>`): a
/// column storing the target's key.
pub(super) fn parse_relation(
    ident: &Ident,
    ty: &Type,
    one_to_one: bool,
    entries: &[Entry],
    errors: &mut Errors,
) -> Option<FieldKind> {
    let args = generic_args(ty);
    let (target, explicit_key) = match args.as_slice() {
        [target] => ((*target).clone(), None),
        [target, key] => ((*target).clone(), Some((*key).clone())),
        _ => {
            errors.push_spanned(
                ty,
                "write a relation as `ForeignKey<Target>` or `ForeignKey<Target, KeyType>` (the same for OneToOne)",
            );
            return None;
        }
    };
    if refuse_self(&target, errors) {
        return None;
    }
    let mut column_name = format!("{}_id", ident.to_string().trim_start_matches("r#"));
    let mut nullable = false;
    let mut to_field = None;
    let mut on_delete = None;
    let mut index = true;
    let mut unique = one_to_one;
    let mut fetch_mode = None;
    let mut renamed_from = None;
    for entry in entries {
        match entry.key.to_string().as_str() {
            "renamed_from" => renamed_from = nonempty(entry, errors).map(|s| s.value),
            "column" => {
                if let Some(s) = nonempty(entry, errors) {
                    column_name = s.value;
                }
            }
            "null" => nullable = entry.flag(errors),
            "unique" => unique = entry.flag(errors) || unique,
            "index" => index = entry.flag(errors),
            "to_field" => {
                to_field = nonempty(entry, errors).and_then(|s| match ident_at(&s.value, s.span) {
                    Some(ident) => Some(Spanned {
                        value: ident.to_string().trim_start_matches("r#").to_owned(),
                        span: s.span,
                    }),
                    None => {
                        errors.push(s.span, "`to_field` names a field of the target model, like \"username\"");
                        None
                    }
                })
            }
            "fetch_mode" => fetch_mode = fetch_mode_value(entry, errors),
            "on_delete" => {
                if let Some(s) = entry.string(errors) {
                    match ON_DELETE.iter().find(|(k, _)| *k == s.value) {
                        Some((_, variant)) => on_delete = Some((*variant, s.span)),
                        None => errors.push(
                            s.span,
                            format!(
                                "unknown on_delete action `{}`; accepted: cascade, set_null, restrict",
                                s.value
                            ),
                        ),
                    }
                }
            }
            other => errors.push(
                entry.span(),
                format!("`{other}` does not apply to a foreign key; accepted: column, null, unique, index, to_field, on_delete, fetch_mode, renamed_from"),
            ),
        }
    }
    if let Some((variant, span)) = on_delete {
        if variant == "SetNull" && !nullable {
            errors.push(
                span,
                "on_delete = \"set_null\" needs a nullable relation: add #[orm(null)]",
            );
        }
    }
    if let (Some(field), None) = (&to_field, &explicit_key) {
        errors.push(
            field.span,
            format!("a relation with to_field = \"{}\" stores that column's value: name its type, like `ForeignKey<Target, String>`", field.value),
        );
    }
    // Without a key type, `i64`, spanned on the target: a target with
    // another key type is an error on it, not on the derive.
    let key_ty: Type =
        explicit_key.unwrap_or_else(|| syn::parse_quote_spanned!(target.span()=> i64));
    if !matches!(classify(&key_ty), Some((kind, false, _)) if kind.is_key()) {
        errors.push_syn(syn::Error::new_spanned(
            &key_ty,
            "a relation's key type must be i16, i32, i64, String or Uuid",
        ));
        return None;
    }
    let value_ty: Type = if nullable {
        syn::parse_quote!(::core::option::Option<#key_ty>)
    } else {
        key_ty.clone()
    };
    // The diesel column is named after the field; `sql_name` carries the
    // database name when it differs.
    let rust_name = format_ident!(
        "{}_id",
        ident.to_string().trim_start_matches("r#"),
        span = ident.span()
    );
    Some(FieldKind::Column(Box::new(Column {
        name: column_name,
        rust_name,
        sql: ColumnType::Key(Box::new(key_ty.clone())),
        relation: Some(Relation {
            target,
            key_ty,
            to_field_span: to_field.as_ref().map(|s| s.span),
            to_field: to_field.map(|s| s.value),
            on_delete: on_delete.map_or("Cascade", |(v, _)| v),
            fetch_mode,
        }),
        value_ty,
        nullable,
        primary_key: false,
        auto_increment: false,
        unique,
        index,
        max_length: None,
        decimal: None,
        generated: None,
        pk_span: None,
        default: None,
        renamed_from,
    })))
}

/// `Self` as a relation's other model: the generated code that names it
/// (the through model, the metadata, the checks) is outside the model's
/// `impl`, where `Self` is another type or none.
fn refuse_self(target: &Type, errors: &mut Errors) -> bool {
    let is_self = matches!(target, Type::Path(p) if p.qself.is_none() && p.path.is_ident("Self"));
    if is_self {
        errors.push_spanned(
            target,
            "name the model itself instead of `Self` (`ForeignKey<Category>` inside `struct Category`): the code generated for a relation is outside the model's impl",
        );
    }
    is_self
}
