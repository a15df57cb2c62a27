//! Keywords as names, written as raw identifiers (`r#type`): a foreign
//! key named `type`, its reverse side, a many-to-many named `match`, a
//! `to_field` and a table module named like a keyword; and a model a
//! `macro_rules!` writes (its field types come as `$t:ty`). On every
//! backend.

use orm_core::prelude::*;
use orm_core::{assert_num_queries, schema};
use orm_tests::backend_tests;

#[derive(Model, Debug, Clone, Default)]
#[orm(table = "raw_kind", module = "r#type")]
pub struct Kind {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(unique, max_length = 20)]
    pub r#ref: String,
    #[orm(reverse_of = "r#type")]
    pub items: Related<Item>,
}

#[derive(Model, Debug, Clone, Default)]
#[orm(table = "raw_item", ordering = "id")]
pub struct Item {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub r#type: ForeignKey<Kind>,
    #[orm(null, to_field = "r#ref")]
    pub by_ref: ForeignKey<Kind, String>,
    pub r#match: ManyToMany<Kind>,
}

/// Models named like keywords, related by a many-to-many (its through
/// model's fields are `r#match` and `r#type`).
#[derive(Model, Debug, Clone, Default)]
#[orm(table = "raw_type", module = "type_table")]
pub struct Type {
    #[orm(primary_key)]
    pub id: Option<i64>,
}

#[derive(Model, Debug, Clone, Default)]
#[orm(table = "raw_match", module = "match_table")]
pub struct Match {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub types: ManyToMany<Type>,
}

/// A model with a value column of type `$value`.
macro_rules! counter_model {
    ($name:ident, $table:literal, $value:ty) => {
        #[derive(Model, Debug, Clone, Default)]
        #[orm(table = $table)]
        pub struct $name {
            #[orm(primary_key)]
            pub id: Option<i64>,
            pub value: $value,
            pub maybe: Option<$value>,
        }
    };
}

counter_model!(Counter, "raw_counter", i32);

backend_tests! {
    fn keywords_as_raw_identifiers(db) {
        let mut conn = db.get()?;
        schema::create_tables(&mut conn, &[Kind::meta(), Item::meta()])?;
        let mut kind = Kind { r#ref: "k".into(), ..Default::default() };
        kind.save(&mut conn)?;
        let mut item = Item::default();
        item.r#type.set(kind.clone());
        item.set_by_ref(kind.clone());
        item.save(&mut conn)?;
        item.r#match().add(&mut conn, std::slice::from_ref(&kind))?;
        let fresh = Kind::get(&mut conn, kind.id.unwrap_or_default())?;
        assert_eq!(assert_num_queries(&mut conn, 1, |c| fresh.items().all(c))?.len(), 1);
        let loaded = Item::objects().load(&mut conn)?;
        assert_eq!(loaded[0].by_ref(&mut conn)?.map(|k| k.r#ref.clone()).as_deref(), Some("k"));
        assert_eq!(loaded[0].r#match().all(&mut conn)?.len(), 1);
        // The generated through table is named after the field, not `r#`.
        let tables: Vec<&str> = orm_core::models![Item].tables().iter().map(|m| m.table).collect();
        assert!(tables.contains(&"raw_item_match"), "{tables:?}");
        schema::create_tables(&mut conn, &[Type::meta(), Match::meta()])?;
        let mut t = Type::default();
        t.save(&mut conn)?;
        let mut m = Match::default();
        m.save(&mut conn)?;
        m.types().add(&mut conn, std::slice::from_ref(&t))?;
        assert_eq!(Match::get(&mut conn, m.id.unwrap_or_default())?.types().all(&mut conn)?.len(), 1);
        schema::create_table::<Counter>(&mut conn)?;
        let mut counter = Counter { value: 7, maybe: Some(8), ..Default::default() };
        counter.save(&mut conn)?;
        let again = Counter::get(&mut conn, counter.id.unwrap_or_default())?;
        assert_eq!((again.value, again.maybe), (7, Some(8)));
        Ok(())
    }
}
