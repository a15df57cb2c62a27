//! The one error type of the crate. It depends on nothing else in the
//! crate, so every layer can return it.

/// Everything that can go wrong in orm-core.
///
/// Match on the variants to react to a condition; every message says what
/// happened and what to do about it.
///
/// ```
/// use orm_core::OrmError;
///
/// fn describe(err: &OrmError) -> &'static str {
///     match err {
///         OrmError::NotFound { .. } => "no such row",
///         OrmError::MultipleFound { .. } => "narrow the filter",
///         _ => "something else",
///     }
/// }
/// assert_eq!(describe(&OrmError::NotFound { model: "Question" }), "no such row");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrmError {
    /// `get` found no row.
    #[error("{model} matching the query does not exist; use `first()` to get an Option instead")]
    NotFound {
        /// The model that was queried.
        model: &'static str,
    },
    /// `get` found more than one row.
    #[error("get() returned more than one {model} (at least {count}); narrow the filter or use `first()`")]
    MultipleFound {
        /// The model that was queried.
        model: &'static str,
        /// How many rows were seen (the query stops looking after two).
        count: usize,
    },
    /// The database reported an error (constraint violation, syntax, lost connection...).
    #[error("database error: {0}")]
    Database(diesel::result::Error),
    /// A connection could not be established.
    #[error("could not connect to the {backend} database: {cause}; check that the server runs and the URL (host, port, user, database) is right")]
    Connection {
        /// Which backend the URL selected (`BackendKind::name`: "SQLite",
        /// "PostgreSQL", "MySQL").
        backend: &'static str,
        /// What the driver said.
        cause: String,
    },
    /// The pool could not hand out a connection in time.
    #[error("connection pool error: {0}; raise the pool size or return connections sooner")]
    Pool(#[from] r2d2::Error),
    /// The database URL could not be understood.
    #[error("invalid database URL `{url}`: {reason}; accepted forms are `sqlite::memory:`, `sqlite://path`, a file path, `postgres://user@host/db` and `mysql://user@host/db`")]
    InvalidUrl {
        /// The URL as given (without password).
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A query was built in a way that cannot run (for example deleting a sliced queryset).
    #[error("invalid query on {model}: {reason}")]
    InvalidQuery {
        /// The model that was queried.
        model: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An operation needs the instance's primary key, but it has none yet.
    #[error("{model} has no primary key yet; save() it first")]
    Unsaved {
        /// The model of the unsaved instance.
        model: &'static str,
    },
    /// A foreign key points at a row that does not exist (a dangling key).
    /// The same error is returned on every access.
    #[error("{model}.{field} points at {target} {key}, which does not exist; fix the data or set the relation to another row")]
    RelatedMissing {
        /// The model declaring the relation.
        model: &'static str,
        /// The relation field.
        field: &'static str,
        /// The target model.
        target: &'static str,
        /// The dangling key value, as printed (`7`, `"bob"`).
        key: String,
    },
    /// Rows a write names do not exist (deleted meanwhile, by another
    /// request or process): nothing was written.
    #[error("{model} with key {} does not exist (deleted meanwhile?); nothing was written: reload the rows or save them first", keys.join(", "))]
    Missing {
        /// The model of the missing rows.
        model: &'static str,
        /// Their keys, as printed (`7`, `"bob"`).
        keys: Vec<String>,
    },
    /// Rows handed to a related manager's `remove` belong to another
    /// owner (or to none, or no longer exist): nothing was written.
    #[error("{model} with key {} is not related to this {owner}; nothing was written: remove only its own related rows (reload them if another request moved them)", keys.join(", "))]
    NotRelated {
        /// The model of the rows.
        model: &'static str,
        /// The owner's model.
        owner: &'static str,
        /// Their keys, as printed (`7`, `"bob"`).
        keys: Vec<String>,
    },
    /// A relation was touched under `FetchMode::Raise`.
    #[error("Fetching of {model}.{field} blocked.")]
    FetchBlocked {
        /// The model declaring the relation.
        model: &'static str,
        /// The relation field.
        field: &'static str,
    },
    /// A relation holds a target that has no key yet (assigned before it
    /// was saved): saving would write NULL, or fail, and lose the link.
    #[error("{model}.{field} holds a {target} that is not saved (no key); save() the {target} first, then assign it again")]
    UnsavedRelated {
        /// The model declaring the relation.
        model: &'static str,
        /// The relation field.
        field: &'static str,
        /// The target model.
        target: &'static str,
    },
    /// A non-nullable relation was read before it was set.
    #[error("{model}.{field} is not set; assign an object or a key before reading or saving it")]
    RelationUnset {
        /// The model declaring the relation.
        model: &'static str,
        /// The relation field.
        field: &'static str,
    },
    /// Submitted values did not validate (a model form): nothing was
    /// written.
    #[error("invalid {model}: {}", describe(errors))]
    Invalid {
        /// The model the values were for.
        model: &'static str,
        /// The messages per field (`__all__` for the whole input).
        errors: std::collections::BTreeMap<String, Vec<String>>,
    },
    /// A transaction helper was used where it cannot do what it says
    /// (`on_commit` inside a transaction that `atomic` did not begin).
    #[error("transaction: {reason}")]
    Transaction {
        /// What is wrong and how to fix it.
        reason: &'static str,
    },
    /// A value read from or written to the database does not fit the Rust field.
    #[error("{model}.{field}: {reason}")]
    Value {
        /// The model.
        model: &'static str,
        /// The field.
        field: &'static str,
        /// What does not fit.
        reason: String,
    },
}

/// The crate's result type.
///
/// ```
/// fn nothing() -> orm_core::Result<()> { Ok(()) }
/// assert!(nothing().is_ok());
/// ```
pub type Result<T, E = OrmError> = std::result::Result<T, E>;

impl OrmError {
    /// True when this error means "no such row" (from `get` or a missing relation target).
    ///
    /// ```
    /// assert!(orm_core::OrmError::NotFound { model: "Question" }.is_not_found());
    /// ```
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            OrmError::NotFound { .. }
                | OrmError::RelatedMissing { .. }
                | OrmError::Missing { .. }
                | OrmError::Database(diesel::result::Error::NotFound)
        )
    }
}

/// A value being bound to a write is one the backend cannot store
/// (raised by the checked SQL types of the backend layer): it becomes
/// `OrmError::Value` naming the field.
impl From<diesel::result::Error> for OrmError {
    fn from(error: diesel::result::Error) -> Self {
        if let diesel::result::Error::SerializationError(e) = &error {
            if let Some(BadValue {
                field: Some((model, field)),
                reason,
            }) = e.downcast_ref::<BadValue>()
            {
                return OrmError::Value {
                    model,
                    field,
                    reason: reason.clone(),
                };
            }
        }
        OrmError::Database(error)
    }
}

/// A value the backend cannot store, found while binding it; the write
/// that binds it names the field ([`name_field`]).
#[derive(Debug)]
pub(crate) struct BadValue {
    /// The model and field, once known.
    pub(crate) field: Option<(&'static str, &'static str)>,
    pub(crate) reason: String,
}

impl std::fmt::Display for BadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.field {
            Some((model, field)) => write!(f, "{model}.{field}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for BadValue {}

/// Adds the model and field to a [`BadValue`] raised while binding it.
pub(crate) fn name_field(
    error: diesel::result::Error,
    model: &'static str,
    field: &'static str,
) -> diesel::result::Error {
    match error {
        diesel::result::Error::SerializationError(mut e) => {
            if let Some(bad) = e.downcast_mut::<BadValue>() {
                bad.field = Some((model, field));
            }
            diesel::result::Error::SerializationError(e)
        }
        other => other,
    }
}

fn describe(errors: &std::collections::BTreeMap<String, Vec<String>>) -> String {
    errors
        .iter()
        .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
}
