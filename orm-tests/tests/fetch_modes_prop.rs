//! Property test of the fetch modes: over random data (authors, questions
//! with a random or null author, choices pointing at random questions) and
//! random access sequences (touches of `choice.question` or
//! `choice.question.author`, random drops of loaded instances before and
//! between touches), every mode returns the same values, each touch costs
//! exactly one query per relation hop not loaded yet (none under RAISE,
//! which fails instead), and PEERS never issues more queries than ONE.
//!
//! The property runs on in-memory SQLite; a few fixed seeds of the same
//! strategy run on every backend.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::prelude::*;
use orm_core::{capture_queries, AnyConnection, OrmError};
use orm_tests::backend_tests;
use orm_tests::polls::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The rows of one case, by index.
#[derive(Clone, Debug)]
struct Data {
    authors: usize,
    /// Per question: the index of its author (or none) and its day, which
    /// shuffles the default ordering (`-pub_date, id`).
    questions: Vec<(Option<usize>, u32)>,
    /// Per choice: the index of its question and its votes, which shuffle
    /// the default ordering (`-votes, id`).
    choices: Vec<(usize, i32)>,
}

/// One step of an access sequence; `choice` indexes the loaded `Vec<Choice>`.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// `choice.question` (depth 1) or `choice.question.author` (depth 2).
    Touch { choice: usize, depth: u8 },
    /// Drops the loaded instance (a no-op when it is already dropped).
    Drop { choice: usize },
}

#[derive(Clone, Debug)]
struct Case {
    data: Data,
    /// Per loaded choice: dropped right after the load, before any touch.
    dropped: Vec<bool>,
    /// The steps, each with the mode the mixed-mode run uses for it.
    ops: Vec<(Op, FetchMode)>,
}

fn data() -> impl Strategy<Value = Data> {
    (1usize..=4)
        .prop_flat_map(|authors| {
            let question = (proptest::option::weighted(0.7, 0..authors), 1u32..=28);
            (Just(authors), proptest::collection::vec(question, 1..=6))
        })
        .prop_flat_map(|(authors, questions)| {
            let choice = (0..questions.len(), 0i32..4);
            (
                Just(authors),
                Just(questions),
                proptest::collection::vec(choice, 1..=12),
            )
        })
        .prop_map(|(authors, questions, choices)| Data {
            authors,
            questions,
            choices,
        })
}

fn mode() -> impl Strategy<Value = FetchMode> {
    prop_oneof![
        Just(FetchMode::One),
        Just(FetchMode::Peers),
        Just(FetchMode::Raise)
    ]
}

fn case() -> impl Strategy<Value = Case> {
    data().prop_flat_map(|data| {
        let n = data.choices.len();
        let op = prop_oneof![
            4 => (0..n, 1u8..=2).prop_map(|(choice, depth)| Op::Touch { choice, depth }),
            1 => (0..n).prop_map(|choice| Op::Drop { choice }),
        ];
        (
            Just(data),
            proptest::collection::vec(proptest::bool::weighted(0.25), n),
            proptest::collection::vec((op, mode()), 1..=24),
        )
            .prop_map(|(data, dropped, ops)| Case { data, dropped, ops })
    })
}

/// What a touch returns: the question text, and at depth 2 the author name
/// (`None` for a question without author).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Question(String),
    Author(String, Option<String>),
}

/// The expected values of one choice, by primary key.
#[derive(Clone, Debug)]
struct Truth {
    question: String,
    author: Option<String>,
}

impl Truth {
    fn value(&self, depth: u8) -> Value {
        match depth {
            1 => Value::Question(self.question.clone()),
            _ => Value::Author(self.question.clone(), self.author.clone()),
        }
    }
}

fn day(d: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 2, d)
        .and_then(|d| d.and_hms_opt(9, 0, 0))
        .unwrap_or_default()
}

fn create_tables(conn: &mut AnyConnection) -> orm_core::Result<()> {
    create_all(conn)
}

/// Inserts the case's rows (into empty tables) and returns the truth per choice key.
fn populate(conn: &mut AnyConnection, data: &Data) -> orm_core::Result<HashMap<i64, Truth>> {
    let mut authors: Vec<Author> = (0..data.authors)
        .map(|i| Author {
            name: format!("author {i}"),
            ..Default::default()
        })
        .collect();
    Author::objects().bulk_create(conn, &mut authors)?;
    let mut questions: Vec<Question> = data
        .questions
        .iter()
        .enumerate()
        .map(|(i, &(author, d))| {
            let mut q = Question {
                question_text: format!("q{i}"),
                pub_date: day(d),
                ..Default::default()
            };
            q.author.set_key(author.and_then(|a| authors[a].id));
            q
        })
        .collect();
    Question::objects().bulk_create(conn, &mut questions)?;
    let mut choices: Vec<Choice> = data
        .choices
        .iter()
        .enumerate()
        .map(|(i, &(question, votes))| {
            let mut c = Choice {
                choice_text: format!("c{i}"),
                votes,
                ..Default::default()
            };
            c.question.set_key(questions[question].id);
            c
        })
        .collect();
    Choice::objects().bulk_create(conn, &mut choices)?;
    Ok(choices
        .iter()
        .zip(&data.choices)
        .map(|(c, &(question, _))| {
            let (author, _) = data.questions[question];
            let truth = Truth {
                question: format!("q{question}"),
                author: author.map(|a| format!("author {a}")),
            };
            (c.id.unwrap_or_default(), truth)
        })
        .collect())
}

/// One touch, under the mode in force.
fn touch(conn: &mut AnyConnection, choice: &Choice, depth: u8) -> orm_core::Result<Value> {
    let question = choice.question(conn)?;
    let text = question.question_text.clone();
    if depth == 1 {
        return Ok(Value::Question(text));
    }
    let author = question.author(conn)?.map(|a| a.name.clone());
    Ok(Value::Author(text, author))
}

/// How many of the hops a touch needs are not loaded yet: the question,
/// then (at depth 2) its author if it has one, known from the truth until
/// the question is loaded.
fn unloaded_hops(choice: &Choice, depth: u8, truth: &Truth) -> usize {
    match choice.question.cached() {
        None => 1 + usize::from(depth == 2 && truth.author.is_some()),
        Some(question) => usize::from(
            depth == 2 && question.author.key().is_some() && !question.author.is_loaded(),
        ),
    }
}

/// What one run saw: per op, the value of a touch (`None` for a drop or a
/// touch of a dropped instance), and the queries of the whole sequence.
struct Run {
    values: Vec<Option<Value>>,
    queries: usize,
}

/// Loads the choices, drops the initial ones, and runs the ops, each under
/// `mode` (or, when `mode` is `None`, under the op's own random mode).
/// Checks, per touch, the value against the truth and the query count
/// against the hops not loaded yet.
fn run(
    conn: &mut AnyConnection,
    case: &Case,
    truth: &HashMap<i64, Truth>,
    mode: Option<FetchMode>,
) -> orm_core::Result<Run> {
    let loaded = Choice::objects().load(conn)?;
    assert_eq!(loaded.len(), case.data.choices.len());
    let mut slots: Vec<Option<Choice>> = loaded.into_iter().map(Some).collect();
    for (slot, &dropped) in slots.iter_mut().zip(&case.dropped) {
        if dropped {
            *slot = None;
        }
    }
    let mut values = Vec::with_capacity(case.ops.len());
    let mut queries = 0;
    for (step, &(op, op_mode)) in case.ops.iter().enumerate() {
        let mode = mode.unwrap_or(op_mode);
        let (choice, depth) = match op {
            Op::Drop { choice } => {
                slots[choice] = None;
                values.push(None);
                continue;
            }
            Op::Touch { choice, depth } => (choice, depth),
        };
        let Some(instance) = &slots[choice] else {
            values.push(None);
            continue;
        };
        let expected = &truth[&instance.id.unwrap_or_default()];
        let hops = unloaded_hops(instance, depth, expected);
        let question_hop = !instance.question.is_loaded();
        let (result, log) = capture_queries(conn, |c| {
            with_fetch_mode(mode, || touch(c, instance, depth))
        });
        let context = || format!("step {step} ({op:?} under {mode:?}) of {case:#?}");
        match mode {
            FetchMode::Raise if hops > 0 => {
                assert!(
                    matches!(result, Err(OrmError::FetchBlocked { .. })),
                    "RAISE with {hops} hop(s) not loaded returned {result:?} at {}",
                    context()
                );
                assert_eq!(log.count(), 0, "RAISE queried at {}", context());
                values.push(None);
                continue;
            }
            FetchMode::Raise => assert_eq!(log.count(), 0, "RAISE queried at {}", context()),
            FetchMode::One | FetchMode::Peers => assert_eq!(
                log.count(),
                hops,
                "one query per hop not loaded yet, at {}: {:#?}",
                context(),
                log.queries()
            ),
        }
        let value = result?;
        assert_eq!(value, expected.value(depth), "wrong value at {}", context());
        if mode == FetchMode::Peers && question_hop {
            // The batch loaded the question of every live peer.
            for (i, peer) in slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| Some((i, s.as_ref()?)))
            {
                assert!(
                    peer.question.is_loaded(),
                    "live peer {i} not loaded by the PEERS batch at {}",
                    context()
                );
            }
        }
        queries += log.count();
        values.push(Some(value));
    }
    Ok(Run { values, queries })
}

/// The whole property for one case, on an empty database with the tables.
fn check(conn: &mut AnyConnection, case: &Case) -> orm_core::Result<()> {
    let truth = populate(conn, &case.data)?;
    let one = run(conn, case, &truth, Some(FetchMode::One))?;
    let peers = run(conn, case, &truth, Some(FetchMode::Peers))?;
    let raise = run(conn, case, &truth, Some(FetchMode::Raise))?;
    run(conn, case, &truth, None)?;

    assert_eq!(
        one.values, peers.values,
        "ONE and PEERS disagree on {case:#?}"
    );
    assert_eq!(raise.queries, 0);
    assert!(
        peers.queries <= one.queries,
        "PEERS ran {} queries, ONE {}, on {case:#?}",
        peers.queries,
        one.queries
    );
    // Under PEERS every choice and question is a peer of the others (one
    // load each), so the sequence costs at most one query per hop.
    let touched: Vec<_> = peers.values.iter().flatten().collect();
    let first_hop = usize::from(!touched.is_empty());
    let second_hop = usize::from(
        touched
            .iter()
            .any(|v| matches!(v, Value::Author(_, Some(_)))),
    );
    assert_eq!(
        peers.queries,
        first_hop + second_hop,
        "PEERS query count on {case:#?}"
    );
    Ok(())
}

fn empty_tables(conn: &mut AnyConnection) -> orm_core::Result<()> {
    Choice::objects().delete(conn)?;
    Question::objects().delete(conn)?;
    Author::objects().delete(conn)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_mode_returns_the_same_values_and_peers_never_costs_more(case in case()) {
        let db = Db::connect("sqlite::memory:").expect("in-memory SQLite");
        let mut conn = db.get().expect("a connection");
        create_tables(&mut conn).expect("tables");
        check(&mut conn, &case).expect("the case runs");
    }
}

/// The cases of a few fixed seeds of the same strategy.
fn seeded_cases() -> Vec<Case> {
    [7u64, 1_000_003, 0xfeed_beef, 42]
        .iter()
        .map(|seed| {
            let mut bytes = [0u8; 32];
            for chunk in bytes.chunks_mut(8) {
                chunk.copy_from_slice(&seed.to_le_bytes());
            }
            let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
            let mut runner = TestRunner::new_with_rng(Config::default(), rng);
            case()
                .new_tree(&mut runner)
                .expect("the strategy generates")
                .current()
        })
        .collect()
}

backend_tests! {
    fn fixed_seeds_hold_on_every_backend(db) {
        let mut conn = db.get()?;
        create_tables(&mut conn)?;
        for case in seeded_cases() {
            check(&mut conn, &case)?;
            empty_tables(&mut conn)?;
        }
        Ok(())
    }
}
