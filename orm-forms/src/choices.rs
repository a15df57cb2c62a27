//! The relation fields of a form: the ids submitted for each, checked
//! against a queryset of choices (one query per relation), and what the
//! chosen objects do to the instance.

use std::collections::{HashMap, HashSet};

use orm_core::{
    AnyConnection, KeyType, Model, OrmError, QuerySet, Rel, RelationVisitor, Result, Writable,
};

/// Sets a relation of the saved row; the flag says it was just inserted.
pub(crate) type SetAfterSave<M> =
    Box<dyn FnOnce(&M, &mut AnyConnection, bool) -> Result<()> + Send>;

/// What a validated relation does to the instance.
pub(crate) enum Chosen<M> {
    /// Assign once the form is valid (a foreign key).
    Before(Box<dyn FnOnce(&mut M) + Send>),
    /// Set after saving (a many-to-many).
    After(SetAfterSave<M>),
}

/// Validates the submitted ids of one relation against a queryset (one
/// per writable relation, and those of [`ModelForm::related`]).
pub(crate) trait Chooser<M>: Send + Sync {
    fn field(&self) -> &'static str;
    fn choose(
        &self,
        conn: &mut AnyConnection,
        raw: &[String],
    ) -> Result<std::result::Result<Vec<Chosen<M>>, String>>;
}

pub(crate) struct RelationChoices<M: Model, T: Model> {
    pub(crate) rel: Rel<M, T>,
    pub(crate) choices: QuerySet<T>,
}

/// Parses a submitted id of `T`; `None` when it cannot be one.
fn parse_key<T: Model>(raw: &str) -> Option<T::Key> {
    T::Key::parse(raw.trim())
}

impl<M: Model, T: Model + Clone> RelationChoices<M, T> {
    /// The choices among `keys` (one query; none for no keys). A sliced
    /// or `distinct_on` queryset cannot be narrowed by key (the slice
    /// would apply to other rows): `OrmError::InvalidQuery`.
    fn choices_by_key(
        &self,
        conn: &mut AnyConnection,
        keys: &[T::Key],
    ) -> Result<HashMap<T::Key, T>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        self.choices.in_bulk(conn, keys).map_err(|e| match e {
            OrmError::InvalidQuery { model, reason } => OrmError::InvalidQuery {
                model,
                reason: format!("the choices of form field `{}`: {reason}", self.rel.field()),
            },
            other => other,
        })
    }
}

impl<M: Model, T: Model + Clone> Chooser<M> for RelationChoices<M, T> {
    fn field(&self) -> &'static str {
        self.rel.field()
    }

    fn choose(
        &self,
        conn: &mut AnyConnection,
        raw: &[String],
    ) -> Result<std::result::Result<Vec<Chosen<M>>, String>> {
        if let Writable::No = self.rel.writable() {
            // The form's own mistake, not the submitter's.
            return Err(OrmError::InvalidQuery {
                model: M::meta().name,
                reason: format!(
                    "`{}` is a reverse side, which a form cannot set: pass a forward foreign key, one-to-one or many-to-many to `related`",
                    self.rel.field()
                ),
            });
        }
        let raw: Vec<&String> = raw.iter().filter(|r| !r.trim().is_empty()).collect();
        let limit = conn.backend().max_in_list();
        if raw.len() > limit {
            return Ok(Err(format!("Select at most {limit} choices.")));
        }
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        for value in &raw {
            // No key holds a NUL (PostgreSQL would refuse the lookup).
            match parse_key::<T>(value).filter(|_| !value.contains('\0')) {
                Some(key) => {
                    if seen.insert(key.clone()) {
                        keys.push(key);
                    }
                }
                None => return Ok(Err(format!("“{value}” is not a valid id."))),
            }
        }
        let rel = self.rel;
        match rel.writable() {
            // Refused above, as the form's own mistake.
            Writable::No => Ok(Err("This relation cannot be set from a form.".into())),
            Writable::One { required } => {
                match keys.as_slice() {
                    [] if required => return Ok(Err("This field is required.".into())),
                    // Nothing chosen for an optional relation: cleared.
                    [] => return Ok(Ok(vec![Chosen::Before(Box::new(move |m| rel.unassign(m)))])),
                    [_] => {}
                    _ => return Ok(Err("Select one choice.".into())),
                }
                let found = self.choices_by_key(conn, &keys)?;
                match found.into_values().next() {
                    Some(obj) => Ok(Ok(vec![Chosen::Before(Box::new(move |m| {
                        take_mode(m, &obj);
                        rel.assign(m, obj)
                    }))])),
                    None => Ok(Err(not_a_choice(&keys[0].to_key()))),
                }
            }
            Writable::Many => {
                let mut found = self.choices_by_key(conn, &keys)?;
                if let Some(missing) = keys.iter().find(|k| !found.contains_key(k)) {
                    return Ok(Err(not_a_choice(&missing.to_key())));
                }
                // In the order submitted, not the map's.
                let found: Vec<T> = keys.iter().filter_map(|k| found.remove(k)).collect();
                Ok(Ok(vec![Chosen::After(Box::new(
                    move |m, conn, inserted| {
                        found.iter().for_each(|t| take_mode(m, t));
                        if inserted {
                            rel.link_new(m, conn, &found)
                        } else {
                            rel.set(m, conn, &found)
                        }
                    },
                ))]))
            }
        }
    }
}

/// Gives a chosen object the instance's fetch mode (an object reached
/// from another takes its mode), unless its queryset gave it one.
fn take_mode<M: Model, T: Model>(instance: &M, chosen: &T) {
    if let (Some(mode), None) = (instance.fetch_mode(), chosen.fetch_mode()) {
        chosen.set_fetch_mode(mode);
    }
}

fn not_a_choice(key: &orm_core::Key) -> String {
    let shown = match key {
        orm_core::Key::Text(s) => s.clone(),
        other => other.to_string(),
    };
    format!("Select a valid choice. {shown} is not one of the available choices.")
}

/// Collects a chooser per writable relation.
pub(crate) struct Choosers<M>(pub(crate) Vec<Box<dyn Chooser<M>>>);

impl<M: Model> RelationVisitor<M> for Choosers<M> {
    fn visit<T: Model + Clone>(&mut self, rel: Rel<M, T>) {
        if rel.writable() != Writable::No {
            self.0.push(Box::new(RelationChoices {
                rel,
                choices: QuerySet::new(),
            }));
        }
    }
}
