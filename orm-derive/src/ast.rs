//! The small model of a `#[derive(Model)]` struct: parsed from syn, then
//! validated, then handed to `expand`.

use proc_macro2::Span;
use quote::format_ident;
use syn::{Data, DeriveInput, Fields, GenericArgument, Ident, PathArguments, Type};

use crate::attr::{self, Entry, Spanned, FIELD_KEYS, STRUCT_KEYS};
use crate::ctx::Errors;

/// The SQL type family of a column (mirrors `orm_core::SqlKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlKind {
    SmallInt,
    Integer,
    BigInt,
    Float,
    Double,
    Bool,
    Text,
    Binary,
    Date,
    Time,
    Timestamp,
}

impl SqlKind {
    pub fn name(self) -> &'static str {
        match self {
            SqlKind::SmallInt => "SmallInt",
            SqlKind::Integer => "Integer",
            SqlKind::BigInt => "BigInt",
            SqlKind::Float => "Float",
            SqlKind::Double => "Double",
            SqlKind::Bool => "Bool",
            SqlKind::Text => "Text",
            SqlKind::Binary => "Binary",
            SqlKind::Date => "Date",
            SqlKind::Time => "Time",
            SqlKind::Timestamp => "Timestamp",
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(self, SqlKind::SmallInt | SqlKind::Integer | SqlKind::BigInt)
    }
}

/// diesel's table limit with its `32-column-tables` feature.
pub const MAX_COLUMNS: usize = 32;

pub const ACCEPTED_TYPES: &str = "i16, i32, i64, f32, f64, bool, String, Vec<u8>, \
chrono::NaiveDate, chrono::NaiveTime, chrono::NaiveDateTime, or Option<_> of one of these";

/// One `-field` / `field` term of `#[orm(ordering = "...")]`.
pub struct Order {
    pub field: String,
    pub descending: bool,
}

pub struct Model {
    pub ident: Ident,
    pub module: Ident,
    pub table: String,
    pub ordering: Vec<Order>,
    pub fields: Vec<Field>,
}

pub struct Field {
    pub ident: Ident,
    pub kind: FieldKind,
}

pub enum FieldKind {
    /// A stored column (a plain value, or the key of a foreign key).
    Column(Box<Column>),
    /// The reverse side of a foreign key: `Related<Child>` with
    /// `#[orm(reverse_of = "fk_field")]`.
    Reverse(Box<Reverse>),
    /// `#[orm(skip)]`: not stored, `Default::default()` when loaded.
    Skip,
}

/// `#[orm(reverse_of = "...")] pub choices: Related<Choice>`
pub struct Reverse {
    pub child: Type,
    pub fk_field: Ident,
}

/// A forward foreign key or one-to-one stored in a column.
pub struct Relation {
    pub target: Type,
    /// The key type stored (`K` of `ForeignKey<T, K>`).
    pub key_ty: Type,
    pub to_field: Option<String>,
    /// `CASCADE`, `SET_NULL` or `RESTRICT` (an `OnDelete` variant name).
    pub on_delete: &'static str,
}

/// The SQL type of a column: a plain type, or the key type of a relation.
pub enum ColumnType {
    Plain(SqlKind),
    Key(Box<Type>),
}

pub struct Column {
    /// The column name in the database.
    pub name: String,
    /// The diesel column ident in the table module.
    pub rust_name: Ident,
    pub sql: ColumnType,
    pub relation: Option<Relation>,
    /// The Rust type of the column value (the inner type for an auto key).
    pub value_ty: Type,
    pub nullable: bool,
    pub primary_key: bool,
    pub auto_increment: bool,
    pub unique: bool,
    pub index: bool,
    pub max_length: Option<u32>,
    /// Span of the `primary_key` flag (for duplicate-key errors).
    pub pk_span: Option<Span>,
}

impl Model {
    pub fn columns(&self) -> impl Iterator<Item = (&Field, &Column)> {
        self.fields.iter().filter_map(|f| match &f.kind {
            FieldKind::Column(c) => Some((f, &**c)),
            FieldKind::Reverse(_) | FieldKind::Skip => None,
        })
    }

    pub fn relations(&self) -> impl Iterator<Item = (&Field, &Column, &Relation)> {
        self.columns()
            .filter_map(|(f, c)| c.relation.as_ref().map(|r| (f, c, r)))
    }

    pub fn reverses(&self) -> impl Iterator<Item = (&Field, &Reverse)> {
        self.fields.iter().filter_map(|f| match &f.kind {
            FieldKind::Reverse(r) => Some((f, &**r)),
            _ => None,
        })
    }

    pub fn primary_key(&self) -> (&Field, &Column) {
        self.columns()
            .find(|(_, c)| c.primary_key)
            .expect("validated: a model has a primary key")
    }
}

/// Parses and validates the input, collecting every error.
pub fn parse(input: &DeriveInput) -> syn::Result<Model> {
    let mut errors = Errors::default();
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => Some(&named.named),
            Fields::Unnamed(_) | Fields::Unit => {
                errors.push(
                    input.ident.span(),
                    "#[derive(Model)] needs a struct with named fields, like `struct Question { id: Option<i64>, ... }`",
                );
                None
            }
        },
        Data::Enum(e) => {
            errors.push(
                e.enum_token.span,
                "#[derive(Model)] works on structs with named fields, not enums",
            );
            None
        }
        Data::Union(u) => {
            errors.push(
                u.union_token.span,
                "#[derive(Model)] works on structs with named fields, not unions",
            );
            None
        }
    };
    if let Some(param) = input.generics.params.first() {
        errors.push_spanned(
            param,
            "#[derive(Model)] does not support generic structs; a model maps one concrete table",
        );
    }

    let struct_entries = attr::parse(
        &input.attrs,
        STRUCT_KEYS,
        "the struct",
        (FIELD_KEYS, "a field"),
        &mut errors,
    );
    let snake = snake_case(&input.ident.to_string());
    let mut table = snake.clone();
    let mut module = format_ident!("{}", snake, span = input.ident.span());
    let mut ordering_lit = None;
    for entry in &struct_entries {
        match entry.key.to_string().as_str() {
            "table" => {
                if let Some(s) = nonempty(entry, &mut errors) {
                    table = s.value;
                }
            }
            "module" => {
                if let Some(s) = nonempty(entry, &mut errors) {
                    match syn::parse_str::<Ident>(&s.value) {
                        Ok(ident) => module = Ident::new(&ident.to_string(), s.span),
                        Err(_) => errors.push(s.span, "`module` must be a Rust identifier"),
                    }
                }
            }
            "ordering" => ordering_lit = entry.string(&mut errors),
            _ => {}
        }
    }
    if syn::parse_str::<Ident>(&module.to_string()).is_err() {
        errors.push(
            input.ident.span(),
            format!(
                "the table module would be named `{module}`, a Rust keyword; name it with #[orm(module = \"...\")]"
            ),
        );
    }

    let mut parsed_fields = Vec::new();
    for field in fields.into_iter().flatten() {
        if let Some(f) = parse_field(field, &mut errors) {
            parsed_fields.push(f);
        }
    }

    let mut model = Model {
        ident: input.ident.clone(),
        module,
        table,
        ordering: Vec::new(),
        fields: parsed_fields,
    };
    if fields.is_some() {
        validate(&mut model, ordering_lit, &mut errors);
    }
    errors.into_result().map(|()| model)
}

fn generic_args(ty: &Type) -> Vec<&Type> {
    match last_segment(ty).map(|s| &s.arguments) {
        Some(PathArguments::AngleBracketed(args)) => args
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn parse_reverse(ident: Ident, ty: &Type, entries: &[Entry], errors: &mut Errors) -> Option<Field> {
    let args = generic_args(ty);
    let [child] = args.as_slice() else {
        errors.push_spanned(ty, "write the reverse side as `Related<ChildModel>`");
        return None;
    };
    let mut fk_field = None;
    for entry in entries {
        match entry.key.to_string().as_str() {
            "reverse_of" => {
                if let Some(s) = nonempty(entry, errors) {
                    match syn::parse_str::<Ident>(&s.value) {
                        Ok(i) => fk_field = Some(Ident::new(&i.to_string(), s.span)),
                        Err(_) => errors.push(s.span, "`reverse_of` names the foreign-key field of the child model, like \"question\""),
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
        errors.push(
            ident.span(),
            format!("`{ident}` needs #[orm(reverse_of = \"...\")] naming the ForeignKey field of the child model it reverses"),
        );
        return None;
    };
    Some(Field {
        ident,
        kind: FieldKind::Reverse(Box::new(Reverse {
            child: (*child).clone(),
            fk_field,
        })),
    })
}

const ON_DELETE: &[(&str, &str)] = &[
    ("cascade", "Cascade"),
    ("set_null", "SetNull"),
    ("restrict", "Restrict"),
];

fn parse_relation(
    ident: Ident,
    ty: &Type,
    one_to_one: bool,
    entries: &[Entry],
    errors: &mut Errors,
) -> Option<Field> {
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
    let mut column_name = format!("{}_id", ident.to_string().trim_start_matches("r#"));
    let mut nullable = false;
    let mut to_field = None;
    let mut on_delete = None;
    let mut index = true;
    let mut unique = one_to_one;
    for entry in entries {
        match entry.key.to_string().as_str() {
            "column" => {
                if let Some(s) = nonempty(entry, errors) {
                    column_name = s.value;
                }
            }
            "null" => nullable = entry.flag(errors),
            "unique" => unique = entry.flag(errors) || unique,
            "index" => index = entry.flag(errors),
            "to_field" => to_field = nonempty(entry, errors),
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
                format!("`{other}` does not apply to a foreign key; accepted: column, null, unique, index, to_field, on_delete"),
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
    let key_ty: Type = explicit_key.unwrap_or_else(|| syn::parse_quote!(i64));
    if !matches!(classify(&key_ty), Some((kind, false, _)) if kind.is_integer() || kind == SqlKind::Text)
    {
        errors.push_syn(syn::Error::new_spanned(
            &key_ty,
            "a relation's key type must be i16, i32, i64 or String",
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
    Some(Field {
        ident,
        kind: FieldKind::Column(Box::new(Column {
            name: column_name,
            rust_name,
            sql: ColumnType::Key(Box::new(key_ty.clone())),
            relation: Some(Relation {
                target,
                key_ty,
                to_field: to_field.map(|s| s.value),
                on_delete: on_delete.map_or("Cascade", |(v, _)| v),
            }),
            value_ty,
            nullable,
            primary_key: false,
            auto_increment: false,
            unique,
            index,
            max_length: None,
            pk_span: None,
        })),
    })
}

fn nonempty(entry: &Entry, errors: &mut Errors) -> Option<Spanned<String>> {
    let s = entry.string(errors)?;
    if s.value.trim().is_empty() {
        errors.push(s.span, format!("`{}` must not be empty", entry.key));
        return None;
    }
    Some(s)
}

fn parse_field(field: &syn::Field, errors: &mut Errors) -> Option<Field> {
    let ident = field.ident.clone()?;
    let entries = attr::parse(
        &field.attrs,
        FIELD_KEYS,
        "a field",
        (STRUCT_KEYS, "the struct"),
        errors,
    );
    let find = |name: &str| entries.iter().find(|e| e.key == name);

    if let Some(skip) = find("skip") {
        skip.flag(errors);
        for other in entries.iter().filter(|e| e.key != "skip") {
            errors.push(
                other.span(),
                format!("`{}` has no effect on a #[orm(skip)] field", other.key),
            );
        }
        return Some(Field {
            ident,
            kind: FieldKind::Skip,
        });
    }

    let type_name = last_ident(&field.ty).unwrap_or_default();
    if type_name == "Related" {
        return parse_reverse(ident, &field.ty, &entries, errors);
    }
    if type_name == "ForeignKey" || type_name == "OneToOne" {
        return parse_relation(ident, &field.ty, type_name == "OneToOne", &entries, errors);
    }

    let Some((sql, nullable, inner)) = classify(&field.ty) else {
        errors.push_spanned(
            &field.ty,
            format!(
                "unsupported field type `{}`; accepted: {ACCEPTED_TYPES}; or mark the field #[orm(skip)]",
                quote::ToTokens::to_token_stream(&field.ty).to_string().replace(' ', "")
            ),
        );
        return None;
    };

    let mut column = Column {
        name: ident.to_string().trim_start_matches("r#").to_owned(),
        rust_name: ident.clone(),
        sql: ColumnType::Plain(sql),
        relation: None,
        value_ty: field.ty.clone(),
        nullable,
        primary_key: false,
        auto_increment: false,
        unique: false,
        index: false,
        max_length: None,
        pk_span: None,
    };
    for entry in &entries {
        match entry.key.to_string().as_str() {
            "primary_key" if entry.flag(errors) => {
                column.primary_key = true;
                column.pk_span = Some(entry.span());
            }
            "column" => {
                if let Some(s) = nonempty(entry, errors) {
                    column.name = s.value;
                }
            }
            "unique" => column.unique = entry.flag(errors),
            "index" => column.index = entry.flag(errors),
            "max_length" => {
                if let Some(n) = entry.int(errors) {
                    if sql != SqlKind::Text {
                        errors.push(
                            entry.span(),
                            format!(
                                "`max_length` applies to String fields only, and `{ident}` is `{}`",
                                quote::ToTokens::to_token_stream(&field.ty).to_string().replace(' ', "")
                            ),
                        );
                    } else if n.value == 0 {
                        errors.push(n.span, "`max_length` must be at least 1");
                    } else {
                        column.max_length = Some(n.value);
                    }
                }
            }
            key @ ("null" | "to_field" | "on_delete" | "reverse_of" | "through"
            | "through_table") => errors.push(
                entry.span(),
                format!(
                    "`{key}` applies to relation fields (ForeignKey, OneToOne, ManyToMany and their reverse sides) only"
                ),
            ),
            _ => {}
        }
    }
    if column.primary_key {
        if nullable {
            if sql.is_integer() {
                column.auto_increment = true;
                column.nullable = false;
                column.value_ty = inner;
            } else {
                errors.push_spanned(
                    &field.ty,
                    "an auto-increment primary key must be Option<i16>, Option<i32> or Option<i64>; a key the user sets is a plain i16, i32, i64 or String",
                );
            }
        } else if !(sql.is_integer() || sql == SqlKind::Text) {
            errors.push_spanned(
                &field.ty,
                "a primary key must be Option<i16|i32|i64> (auto-increment), i16, i32, i64 or String",
            );
        }
    }
    Some(Field {
        ident,
        kind: FieldKind::Column(Box::new(column)),
    })
}

/// Maps a Rust type to its SQL kind; returns (kind, nullable, inner type).
pub fn classify(ty: &Type) -> Option<(SqlKind, bool, Type)> {
    if let Some(inner) = generic_arg(ty, "Option") {
        let (kind, nullable, _) = classify(inner)?;
        if nullable {
            return None;
        }
        return Some((kind, true, inner.clone()));
    }
    if let Some(inner) = generic_arg(ty, "Vec") {
        return match last_ident(inner)?.as_str() {
            "u8" => Some((SqlKind::Binary, false, ty.clone())),
            _ => None,
        };
    }
    let kind = match last_ident(ty)?.as_str() {
        "i16" => SqlKind::SmallInt,
        "i32" => SqlKind::Integer,
        "i64" => SqlKind::BigInt,
        "f32" => SqlKind::Float,
        "f64" => SqlKind::Double,
        "bool" => SqlKind::Bool,
        "String" => SqlKind::Text,
        "NaiveDate" => SqlKind::Date,
        "NaiveTime" => SqlKind::Time,
        "NaiveDateTime" => SqlKind::Timestamp,
        _ => return None,
    };
    if has_generics(ty) {
        return None;
    }
    Some((kind, false, ty.clone()))
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

fn last_ident(ty: &Type) -> Option<String> {
    last_segment(ty).map(|s| s.ident.to_string())
}

fn has_generics(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| !matches!(s.arguments, PathArguments::None))
}

/// `Some(T)` when `ty` is `Name<T>`.
pub fn generic_arg<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let seg = last_segment(ty)?;
    if seg.ident != name {
        return None;
    }
    match &seg.arguments {
        PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

fn validate(model: &mut Model, ordering: Option<Spanned<String>>, errors: &mut Errors) {
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

    // Column names are unique, and there are at most 32 (diesel's limit).
    let columns: Vec<(&Field, &Column)> = model.columns().collect();
    if let Some((field, _)) = columns.get(MAX_COLUMNS) {
        errors.push(
            field.ident.span(),
            format!("a model maps at most {MAX_COLUMNS} columns; mark extra fields #[orm(skip)] or split the model"),
        );
    }
    for (i, (field, column)) in columns.iter().enumerate() {
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

    // Ordering terms name stored fields.
    if let Some(ordering) = ordering {
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
            });
        }
        model.ordering = terms;
    }
}

/// `PollQuestion` -> `poll_question`.
pub fn snake_case(name: &str) -> String {
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
