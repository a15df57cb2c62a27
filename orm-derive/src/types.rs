//! Reading Rust types by their syntax: the SQL kind of a plain field type,
//! and the generic arguments of a relation type.
//!
//! A derive sees tokens, not resolved types, so a type is recognised by the
//! name of its last path segment (`chrono::NaiveDate` and `NaiveDate` alike).

use syn::{GenericArgument, PathArguments, Type};

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
    Uuid,
    TimestampTz,
    Json,
    Decimal,
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
            SqlKind::Uuid => "Uuid",
            SqlKind::TimestampTz => "TimestampTz",
            SqlKind::Json => "Json",
            SqlKind::Decimal => "Decimal",
        }
    }

    /// The diesel SQL type of the column, as `diesel::table!` names it
    /// (it imports `diesel::sql_types::*`).
    pub fn diesel_type(self) -> &'static str {
        match self {
            SqlKind::TimestampTz => "Timestamptz",
            SqlKind::Json => "Jsonb",
            SqlKind::Decimal => "Numeric",
            other => other.name(),
        }
    }

    /// Whether a primary key (and so a relation target) can have this type.
    pub fn is_key(self) -> bool {
        self.is_integer() || matches!(self, SqlKind::Text | SqlKind::Uuid)
    }

    /// Whether every backend decodes a column of this type with diesel's
    /// own `FromSql` (the others go through an encoding of orm-core's).
    pub fn is_native(self) -> bool {
        !matches!(
            self,
            SqlKind::Uuid | SqlKind::TimestampTz | SqlKind::Json | SqlKind::Decimal
        )
    }

    pub fn is_integer(self) -> bool {
        matches!(self, SqlKind::SmallInt | SqlKind::Integer | SqlKind::BigInt)
    }
}

pub const ACCEPTED_TYPES: &str = "i16, i32, i64, f32, f64, bool, String, Vec<u8>, \
chrono::NaiveDate, chrono::NaiveTime, chrono::NaiveDateTime, chrono::DateTime<Utc>, \
uuid::Uuid, serde_json::Value, orm_core::Json<T>, bigdecimal::BigDecimal, time::Date, time::Time, time::PrimitiveDateTime, time::OffsetDateTime, \
or Option<_> of one of these";

/// How the relation types are named, for messages.
pub const RELATION_TYPES: &str = "`ForeignKey<..>`, `OneToOne<..>`, `ManyToMany<..>`, \
`Related<..>` or `ReverseOneToOne<..>`";

/// A relation field type, recognised by the name of its last path segment
/// (so `orm_core::ForeignKey<User>` and `ForeignKey<User>` alike, but not a
/// type alias of one). The generated code asserts that the type is really
/// orm_core's (`orm_core::__private_v1::RelationField`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelationKind {
    ForeignKey,
    OneToOne,
    ManyToMany,
    Related,
    ReverseOneToOne,
}

impl RelationKind {
    pub fn of(ty: &Type) -> Option<Self> {
        Some(match last_ident(ty)?.as_str() {
            "ForeignKey" => RelationKind::ForeignKey,
            "OneToOne" => RelationKind::OneToOne,
            "ManyToMany" => RelationKind::ManyToMany,
            "Related" => RelationKind::Related,
            "ReverseOneToOne" => RelationKind::ReverseOneToOne,
            _ => return None,
        })
    }
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
    if generic_arg(ty, "Json").is_some() {
        return Some((SqlKind::Json, false, ty.clone()));
    }
    if let Some(zone) = generic_arg(ty, "DateTime") {
        return match last_ident(zone)?.as_str() {
            "Utc" => Some((SqlKind::TimestampTz, false, ty.clone())),
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
        "NaiveDateTime" | "PrimitiveDateTime" => SqlKind::Timestamp,
        "Date" => SqlKind::Date,
        "Time" => SqlKind::Time,
        "OffsetDateTime" => SqlKind::TimestampTz,
        "Uuid" => SqlKind::Uuid,
        "Value" => SqlKind::Json,
        "BigDecimal" => SqlKind::Decimal,
        _ => return None,
    };
    if has_generics(ty) {
        return None;
    }
    Some((kind, false, ty.clone()))
}

/// `Some(T)` when `ty` is `Option<T>`.
pub fn option_inner(ty: &Type) -> Option<&Type> {
    generic_arg(ty, "Option")
}

/// The name of the last path segment: `ForeignKey` for
/// `orm_core::ForeignKey<User>`.
fn last_ident(ty: &Type) -> Option<String> {
    last_segment(ty).map(|s| s.ident.to_string())
}

/// The type arguments of the last path segment: `[User, String]` for
/// `ForeignKey<User, String>`.
pub fn generic_args(ty: &Type) -> Vec<&Type> {
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

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        // A type a `macro_rules!` passed as `$t:ty` (invisible delimiters).
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

fn has_generics(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| !matches!(s.arguments, PathArguments::None))
}

/// `Some(T)` when `ty` is `Name<T>`.
fn generic_arg<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
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
