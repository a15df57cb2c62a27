//! A `to_field` pointing at a field stored under another column name
//! (`column = "..."`): the foreign key references that column, and lazy,
//! peer, joined and reverse loads match on it, on every backend.

use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::prelude::*;
use orm_core::{assert_num_queries, schema, OrmError};
use orm_tests::backend_tests;

#[derive(Model, Debug, Clone, Default)]
#[orm(table = "tf_member")]
pub struct Member {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(unique, column = "member_code")]
    pub code: i64,
    #[orm(reverse_of = "member")]
    pub cards: Related<Card>,
}

#[derive(Model, Debug, Clone, Default)]
#[orm(table = "tf_card", ordering = "id")]
pub struct Card {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(to_field = "code")]
    pub member: ForeignKey<Member, i64>,
}

backend_tests! {
    fn a_to_field_stored_under_another_column_name(db) {
        let mut conn = db.get()?;
        let sql = schema::create_table_sql(Card::meta(), db.backend()).join("\n");
        assert!(sql.contains("member_code"), "{sql}");
        schema::create_tables(&mut conn, &[Member::meta(), Card::meta()])?;
        for code in [70, 80] {
            let mut member = Member { code, ..Default::default() };
            member.save(&mut conn)?;
            let mut card = Card::default();
            card.set_member(member);
            card.save(&mut conn)?;
        }
        // Peers: both members in one query.
        let cards = Card::objects().load(&mut conn)?;
        let codes = assert_num_queries(&mut conn, 1, |c| {
            with_fetch_mode(FetchMode::Peers, || {
                cards.iter().map(|card| card.member(c).map(|m| m.code)).collect::<orm_core::Result<Vec<_>>>()
            })
        })?;
        assert_eq!(codes, [70, 80]);
        // Joined.
        let joined = Card::objects().select_related(Card::MEMBER).load(&mut conn)?;
        let codes = assert_num_queries(&mut conn, 0, |c| {
            joined.iter().map(|card| card.member(c).map(|m| m.code)).collect::<orm_core::Result<Vec<_>>>()
        })?;
        assert_eq!(codes, [70, 80]);
        // Reverse.
        let members = Member::objects().prefetch_related(Member::CARDS).load(&mut conn)?;
        assert!(members.iter().all(|m| m.cards().cached().is_some_and(|c| c.len() == 1)));
        Ok(())
    }

    fn setting_a_to_field_relation_by_primary_key_is_refused(db) {
        let mut conn = db.get()?;
        schema::create_tables(&mut conn, &[Member::meta(), Card::meta()])?;
        let mut a = Member { code: 70, ..Default::default() };
        a.save(&mut conn)?;
        // A member whose code is `a`'s primary key: what `ForeignKey::set`
        // would have linked the card to.
        let mut b = Member { code: a.id.unwrap_or_default(), ..Default::default() };
        b.save(&mut conn)?;
        let mut card = Card::default();
        card.member.set(a.clone());
        let err = card.save(&mut conn).unwrap_err();
        assert!(matches!(err, OrmError::InvalidQuery { .. }), "{err:?}");
        assert!(err.to_string().contains("set_member"), "{err}");
        // A clone carries what it was set with.
        assert!(card.clone().save(&mut conn).is_err());
        assert_eq!(Card::objects().count(&mut conn)?, 0);
        // The generated setter stores the code; `set_key` takes one too.
        card.set_member(a);
        card.save(&mut conn)?;
        assert_eq!(card.member.key(), Some(&70));
        card.member.set_key(Some(b.code));
        card.save(&mut conn)?;
        assert_eq!(Card::get(&mut conn, card.id.unwrap_or_default())?.member.key(), Some(&b.code));
        Ok(())
    }
}
