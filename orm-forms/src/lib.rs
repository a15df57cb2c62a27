//! Model forms: build an instance from submitted key/value pairs (an HTML
//! form body), validate every field and every relation choice, and save
//! the row with its many-to-many relations in one transaction, keeping the
//! validated objects cached on the instance.
//!
//! ```
//! use orm_core::prelude::*;
//! use orm_forms::ModelForm;
//!
//! #[derive(Model, Debug, Clone, Default)]
//! #[orm(ordering = "name")]
//! pub struct Tag {
//!     #[orm(primary_key)]
//!     pub id: Option<i64>,
//!     #[orm(max_length = 20)]
//!     pub name: String,
//! }
//!
//! #[derive(Model, Debug, Clone, Default)]
//! pub struct Post {
//!     #[orm(primary_key)]
//!     pub id: Option<i64>,
//!     #[orm(max_length = 100)]
//!     pub title: String,
//!     pub tags: ManyToMany<Tag>,
//! }
//!
//! # fn main() -> orm_core::Result<()> {
//! let db = Db::connect("sqlite::memory:")?;
//! let mut conn = db.get()?;
//! orm_core::schema::create_tables(&mut conn, &[Tag::meta(), Post::meta()])?;
//! let mut tags = vec![Tag { name: "rust".into(), ..Default::default() }];
//! Tag::objects().bulk_create(&mut conn, &mut tags)?;
//!
//! let mut form = ModelForm::<Post>::new().bind_urlencoded("title=Hello+world&tags=1");
//! assert!(form.is_valid(&mut conn)?);
//! let post = form.save(&mut conn)?;
//! assert_eq!(post.title, "Hello world");
//! // The validated tags are cached: reading them back costs no query.
//! let tags = orm_core::assert_num_queries(&mut conn, 0, |c| post.tags().all(c))?;
//! assert_eq!(tags[0].name, "rust");
//!
//! let mut bad = ModelForm::<Post>::new().bind_urlencoded("title=&tags=7&evil=1");
//! assert!(!bad.is_valid(&mut conn)?);
//! assert_eq!(bad.errors().get("title"), Some(&vec!["This field is required.".to_string()]));
//! assert_eq!(
//!     bad.errors().get("tags"),
//!     Some(&vec!["Select a valid choice. 7 is not one of the available choices.".to_string()])
//! );
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use orm_core::{
    write_transaction, AnyConnection, ColumnMeta, Model, OrmError, QuerySet, Rel, Relations,
    Result, SqlKind,
};

mod choices;
mod values;

use choices::{Chooser, Choosers, Chosen, RelationChoices, SetAfterSave};
pub use values::FormValue;
use values::{assign, editable};

/// Per-field error messages; the key `__all__` holds errors about the
/// whole form.
pub type FormErrors = BTreeMap<String, Vec<String>>;

/// The key of errors about the whole form.
pub const NON_FIELD_ERRORS: &str = "__all__";

/// The largest body a form accepts by default (1 MiB).
pub const DEFAULT_MAX_INPUT_BYTES: usize = 1 << 20;

/// A plain (non-relation) field a form edits: every stored column but the
/// auto-increment key, foreign keys (relations) and binary data.
#[derive(Debug, Clone, Copy)]
struct FormField {
    /// The column's position.
    column: usize,
    meta: &'static ColumnMeta,
}

impl FormField {
    /// The field name (the form key).
    fn key(&self) -> &'static str {
        self.meta.field
    }

    /// Whether a value must be submitted (a boolean is false when absent).
    fn required(&self) -> bool {
        !self.meta.nullable && self.meta.kind != SqlKind::Bool
    }
}

/// The plain fields of `M` a form edits: of a type forms parse (see
/// [`FormValue`]), not a relation, not assigned by the database, and not
/// the key of a row being edited (a new key would write another row).
fn form_fields<M: Model>(instance: &mut M, adding: bool) -> Vec<FormField> {
    M::meta()
        .columns
        .iter()
        .enumerate()
        .filter(|(column, c)| {
            c.references.is_none()
                && !c.auto_increment
                && (adding || !c.primary_key)
                && instance
                    .field_mut(*column)
                    .is_some_and(|value| editable(value))
        })
        .map(|(column, meta)| FormField { column, meta })
        .collect()
}

/// Decodes one part of an `application/x-www-form-urlencoded` body (`+`
/// is a space, `%XX` a byte); `Err` with the bytes when they are not UTF-8.
fn decode_form_part(part: &str) -> std::result::Result<String, Vec<u8>> {
    let spaced: Vec<u8> = part
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    String::from_utf8(bytes).map_err(|e| e.into_bytes())
}

/// A form over model `M`: bind submitted data, validate, save.
///
/// Every forward relation field accepts ids chosen among `T::objects()`;
/// narrow or tune that queryset (filters, `select_related`,
/// `prefetch_related`) with [`related`](Self::related): what it loads stays
/// on the objects cached in the saved instance.
pub struct ModelForm<M: Model> {
    instance: M,
    adding: bool,
    data: Vec<(String, String)>,
    /// Fields whose submitted value was not valid UTF-8 (left out of `data`).
    undecodable: Vec<String>,
    relations: Vec<Box<dyn Chooser<M>>>,
    errors: FormErrors,
    max_input_bytes: usize,
    input_bytes: usize,
    validated: Option<Vec<SetAfterSave<M>>>,
}

impl<M: Model> fmt::Debug for ModelForm<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelForm")
            .field("model", &M::meta().name)
            .field("data", &self.data)
            .field("errors", &self.errors)
            .finish()
    }
}

impl<M: Relations + Default> Default for ModelForm<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Relations + Default> ModelForm<M> {
    /// A form creating a new `M`.
    pub fn new() -> Self {
        Self::for_instance(M::default(), true)
    }
}

impl<M: Relations> ModelForm<M> {
    /// A form editing `instance` (saved with an UPDATE).
    pub fn edit(instance: M) -> Self {
        let adding = instance.pk().is_none();
        Self::for_instance(instance, adding)
    }

    fn for_instance(instance: M, adding: bool) -> Self {
        ModelForm {
            instance,
            adding,
            data: Vec::new(),
            undecodable: Vec::new(),
            relations: {
                let mut choosers = Choosers(Vec::new());
                M::visit_relations(&mut choosers);
                choosers.0
            },
            errors: FormErrors::new(),
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            input_bytes: 0,
            validated: None,
        }
    }

    /// Binds an `application/x-www-form-urlencoded` body; repeated keys
    /// give a multi-valued field (a many-to-many).
    pub fn bind_urlencoded(self, body: &str) -> Self {
        let size = body.len();
        let mut pairs = Vec::new();
        let mut undecodable = Vec::new();
        for pair in body.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode_form_part(key)
                .unwrap_or_else(|bytes| String::from_utf8_lossy(&bytes).into_owned());
            match decode_form_part(value) {
                Ok(value) => pairs.push((key, value)),
                Err(_) => undecodable.push(key),
            }
        }
        let mut form = self.bind_pairs(pairs);
        form.undecodable = undecodable;
        form.input_bytes = size;
        form
    }

    /// Binds already decoded key/value pairs.
    pub fn bind_pairs(mut self, pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        self.data = pairs.into_iter().collect();
        self.undecodable.clear();
        self.input_bytes = self.data.iter().map(|(k, v)| k.len() + v.len()).sum();
        self.validated = None;
        self
    }

    /// Limits the size of the submitted data (default 1 MiB).
    pub fn max_input_bytes(mut self, bytes: usize) -> Self {
        self.max_input_bytes = bytes;
        self
    }

    /// Chooses the objects the relation `rel` may be set to among
    /// `choices` (and loads them with whatever it selects or prefetches).
    /// `rel` is a forward foreign key, one-to-one or many-to-many: a
    /// reverse side makes `is_valid` return `OrmError::InvalidQuery`.
    pub fn related<T: Model + Clone, J>(mut self, rel: Rel<M, T, J>, choices: QuerySet<T>) -> Self {
        let rel = rel.erased();
        self.relations.retain(|r| r.field() != rel.field());
        self.relations
            .push(Box::new(RelationChoices { rel, choices }));
        self.validated = None;
        self
    }

    /// The errors found by the last validation.
    pub fn errors(&self) -> &FormErrors {
        &self.errors
    }

    /// The instance as cleaned so far.
    pub fn instance(&self) -> &M {
        &self.instance
    }

    fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Cleans every field and validates every relation choice (one query
    /// per relation with submitted ids), then, when all are valid, checks
    /// the unique constraints (one query per `unique` field and per
    /// `unique_together`; one more for a new row whose key the user sets).
    /// Unknown fields, oversized input, malformed values, ids that are not
    /// among the choices and values another row holds are reported per
    /// field (`unique_together` on [`NON_FIELD_ERRORS`]); nothing is
    /// written.
    pub fn is_valid(&mut self, conn: &mut AnyConnection) -> Result<bool> {
        let backend = conn.backend();
        self.errors.clear();
        self.validated = None;
        if self.input_bytes > self.max_input_bytes {
            self.error(
                NON_FIELD_ERRORS,
                format!(
                    "The submitted data is larger than {} bytes.",
                    self.max_input_bytes
                ),
            );
            return Ok(false);
        }
        for key in self.undecodable.clone() {
            self.error(&key, "Enter valid text: the submitted value is not UTF-8.");
        }
        let fields = form_fields(&mut self.instance, self.adding);
        let known = |name: &str| {
            fields.iter().any(|f| f.key() == name)
                || self.relations.iter().any(|r| r.field() == name)
        };
        let unknown: Vec<String> = self
            .data
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| !known(k))
            .collect();
        for key in unknown {
            if !self.errors.contains_key(&key) {
                let stored = M::meta().columns.iter().any(|c| c.field == key);
                self.error(
                    &key,
                    if stored {
                        "This field cannot be set from a form."
                    } else {
                        "Unknown field."
                    },
                );
            }
        }
        for field in fields {
            let (name, required) = (field.key(), field.required());
            if self.undecodable.iter().any(|k| k == name) {
                continue;
            }
            let values: Vec<String> = self.values(name);
            let raw = match values.as_slice() {
                [] if required => {
                    self.error(name, "This field is required.");
                    continue;
                }
                [] => "",
                [one] => one.as_str(),
                _ => {
                    self.error(name, "Submit one value.");
                    continue;
                }
            };
            if required && raw.trim().is_empty() {
                self.error(name, "This field is required.");
                continue;
            }
            let Some(value) = self.instance.field_mut(field.column) else {
                continue;
            };
            // Parsed, then checked as the save would bind it.
            let refused = match assign(value, raw, field.meta.max_length) {
                Some(Err(message)) => Some(message),
                _ => orm_core::check_value(backend, field.meta, value),
            };
            if let Some(message) = refused {
                self.error(name, message);
            }
        }
        let mut chosen = Vec::new();
        for relation in &self.relations {
            if self.undecodable.iter().any(|k| k == relation.field()) {
                continue;
            }
            let values = self.values(relation.field());
            match relation.choose(conn, &values)? {
                Ok(mut c) => chosen.append(&mut c),
                Err(message) => {
                    self.errors
                        .entry(relation.field().to_owned())
                        .or_default()
                        .push(message);
                }
            }
        }
        if !self.errors.is_empty() {
            return Ok(false);
        }
        // Foreign keys go on the instance now: its unique constraints are
        // checked with them.
        let mut after = Vec::new();
        for c in chosen {
            match c {
                Chosen::Before(assign) => assign(&mut self.instance),
                Chosen::After(set) => after.push(set),
            }
        }
        self.check_unique(conn)?;
        if self.errors.is_empty() {
            self.validated = Some(after);
        }
        Ok(self.errors.is_empty())
    }

    /// Reports the unique constraints another row holds the cleaned
    /// values for: on the field for a `unique` field (a new row's own key
    /// too), on the form for `unique_together`. One query per constraint.
    fn check_unique(&mut self, conn: &mut AnyConnection) -> Result<()> {
        let meta = M::meta();
        let key = meta.primary_key();
        if self.adding && !key.auto_increment {
            if let Some(pk) = self.instance.pk() {
                if QuerySet::<M>::new().filter_pks(&[pk]).exists(conn)? {
                    self.error(
                        key.field,
                        format!("{} with this {} already exists.", meta.name, key.field),
                    );
                    return Ok(());
                }
            }
        }
        let conflicts = match self.instance.unique_conflicts(conn) {
            Ok(conflicts) => conflicts,
            // A value the backend cannot store (a NUL on PostgreSQL, text
            // past a MySQL VARCHAR): an error on its field, as the save's
            // would be.
            Err(OrmError::Value { field, reason, .. }) => {
                self.error(field, reason);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        for conflict in conflicts {
            let on = match conflict.fields.as_slice() {
                [field] => field,
                _ => NON_FIELD_ERRORS,
            };
            self.error(on, conflict.to_string());
        }
        Ok(())
    }

    fn values(&self, field: &str) -> Vec<String> {
        self.data
            .iter()
            .filter(|(k, _)| k == field)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Saves the row and sets its many-to-many relations in one
    /// transaction, validating first if needed. The validated objects stay
    /// cached on the returned instance: reading its relations costs no
    /// query. Errors with [`OrmError::Invalid`] when the data is not
    /// valid; on any error nothing is written.
    ///
    /// Queries: validation (one per relation with ids, one per unique
    /// constraint), then the INSERT or
    /// UPDATE, then per many-to-many one INSERT of the links (a new row),
    /// or a DELETE of the other links and an INSERT skipping those that
    /// exist (editing: exact whatever the instance's cache held).
    pub fn save(mut self, conn: &mut AnyConnection) -> Result<M> {
        if self.validated.is_none() && !self.is_valid(conn)? {
            return Err(OrmError::Invalid {
                model: M::meta().name,
                errors: self.errors,
            });
        }
        let after = self.validated.take().unwrap_or_default();
        let mut instance = self.instance;
        let adding = self.adding;
        write_transaction(conn, |conn| {
            if adding {
                instance.insert(conn)?;
            } else {
                instance.save(conn)?;
            }
            after
                .into_iter()
                .try_for_each(|set| set(&instance, conn, adding))?;
            Ok(instance)
        })
    }
}
