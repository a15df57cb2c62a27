//! Filters across relations (`filter_related`, `exclude_related`): forward
//! and reverse foreign keys, many-to-many both ways, a `to_field` through
//! model; one query, no repeated rows; on every backend.

use orm_core::prelude::*;
use orm_core::{assert_num_queries, AnyConnection};
use orm_tests::backend_tests;
use orm_tests::polls::*;

fn texts(questions: &[Question]) -> Vec<&str> {
    let mut texts: Vec<&str> = questions.iter().map(|q| q.question_text.as_str()).collect();
    texts.sort();
    texts
}

/// Three questions: "hot" (choices with 12 and 20 votes, tags rust + db,
/// by Ada), "cold" (a choice with 1 vote, tag db), "empty" (nothing).
fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    create_all(conn)?;
    let tags = create_tags(conn, &["rust", "db"])?;
    let mut ada = Author {
        name: "Ada".into(),
        ..Default::default()
    };
    ada.save(conn)?;
    let mut hot = create_question(conn, "hot")?;
    hot.author.set(ada);
    hot.save(conn)?;
    let cold = create_question(conn, "cold")?;
    create_question(conn, "empty")?;
    for (q, votes) in [(&hot, 12), (&hot, 20), (&cold, 1)] {
        q.choices().create(
            conn,
            Choice {
                choice_text: format!("{votes}"),
                votes,
                ..Default::default()
            },
        )?;
    }
    hot.tags().set(conn, &tags)?;
    cold.tags().set(conn, &tags[1..])?;
    Ok(())
}

backend_tests! {
    fn across_each_kind_of_relation(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        // Reverse foreign key: "hot" once, although two choices match.
        let popular = assert_num_queries(&mut conn, 1, |c| {
            Question::objects().filter_related(Question::CHOICES, choice::votes.gt(10)).load(c)
        })?;
        assert_eq!(texts(&popular), ["hot"]);
        // Excluded: every question without such a choice, "empty" too.
        let rest = Question::objects().exclude_related(Question::CHOICES, choice::votes.gt(10)).load(&mut conn)?;
        assert_eq!(texts(&rest), ["cold", "empty"]);
        // Forward foreign key, and its exclusion keeps NULL keys.
        let by_ada = Question::objects().filter_related(Question::AUTHOR, author::name.eq("Ada")).load(&mut conn)?;
        assert_eq!(texts(&by_ada), ["hot"]);
        let not_ada = Question::objects().exclude_related(Question::AUTHOR, author::name.eq("Ada")).load(&mut conn)?;
        assert_eq!(texts(&not_ada), ["cold", "empty"]);
        let hot_choices = Choice::objects().filter_related(Choice::QUESTION, question::question_text.eq("hot")).count(&mut conn)?;
        assert_eq!(hot_choices, 2);
        // Many-to-many, both sides.
        let rusty = Question::objects().filter_related(Question::TAGS, tag::name.eq("rust")).load(&mut conn)?;
        assert_eq!(texts(&rusty), ["hot"]);
        let db_tagged = Question::objects().filter_related(Question::TAGS, tag::name.eq("db")).count(&mut conn)?;
        assert_eq!(db_tagged, 2);
        let tags_of_cold = Tag::objects().filter_related(Tag::QUESTIONS, question::question_text.eq("cold")).load(&mut conn)?;
        assert_eq!(tags_of_cold.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["db"]);
        // Filters stack (each matched by its own related rows) and mix
        // with plain ones.
        let both = Question::objects()
            .filter_related(Question::TAGS, tag::name.eq("db"))
            .exclude_related(Question::TAGS, tag::name.eq("rust"))
            .filter(question::question_text.ne("x"))
            .load(&mut conn)?;
        assert_eq!(texts(&both), ["cold"]);
        // Counting, existence and deleting use the same filter.
        assert!(Question::objects().filter_related(Question::CHOICES, choice::votes.eq(1)).exists(&mut conn)?);
        let deleted = Choice::objects().filter_related(Choice::QUESTION, question::question_text.eq("cold")).delete(&mut conn)?;
        assert_eq!(deleted, 1);
        Ok(())
    }

    fn annotate_count_per_row(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        let counted = assert_num_queries(&mut conn, 1, |c| {
            Question::objects().order_by(question::question_text.asc()).annotate_count(c, Question::CHOICES)
        })?;
        let pairs: Vec<(&str, i64)> = counted.iter().map(|(q, n)| (q.question_text.as_str(), *n)).collect();
        assert_eq!(pairs, [("cold", 1), ("empty", 0), ("hot", 2)]);
        // A many-to-many counts links; filters and prefetching apply.
        let tagged = assert_num_queries(&mut conn, 2, |c| {
            Question::objects()
                .filter_related(Question::TAGS, tag::name.eq("db"))
                .prefetch_related(Question::CHOICES)
                .annotate_count(c, Question::TAGS)
        })?;
        let mut pairs: Vec<(&str, i64, usize)> = tagged
            .iter()
            .map(|(q, n)| (q.question_text.as_str(), *n, q.choices().cached().map_or(0, |c| c.len())))
            .collect();
        pairs.sort();
        assert_eq!(pairs, [("cold", 1, 1), ("hot", 2, 2)]);
        let per_tag = Tag::objects().annotate_count(&mut conn, Tag::QUESTIONS)?;
        let mut pairs: Vec<(&str, i64)> = per_tag.iter().map(|(t, n)| (t.name.as_str(), *n)).collect();
        pairs.sort();
        assert_eq!(pairs, [("db", 2), ("rust", 1)]);
        assert!(Question::objects().select_related(Question::AUTHOR).annotate_count(&mut conn, Question::CHOICES).is_err());
        Ok(())
    }

    fn through_a_to_field_link_model(db) {
        let mut conn = db.get()?;
        create_all(&mut conn)?;
        let mut ann = User { username: "ann".into(), ..Default::default() };
        ann.save(&mut conn)?;
        let mut bob = User { username: "bob".into(), ..Default::default() };
        bob.save(&mut conn)?;
        let mut admins = Group { name: "admins".into(), size: 1 };
        admins.save(&mut conn)?;
        ann.groups().add(&mut conn, &[admins])?;
        let in_admins = User::objects().filter_related(User::GROUPS, group::name.eq("admins")).load(&mut conn)?;
        assert_eq!(in_admins.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["ann"]);
        let others = User::objects().exclude_related(User::GROUPS, group::name.eq("admins")).load(&mut conn)?;
        assert_eq!(others.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["bob"]);
        Ok(())
    }
}
