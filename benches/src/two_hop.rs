//! The two-hop workload of issue 10: N choices, each touching its question
//! and the question's author (choice -> question -> author), no ordering,
//! ten choices per question, 100 authors. Shared by the criterion benchmark
//! `benches/benches/peers_two_hop.rs` and the peak-RSS binary
//! `src/bin/peers_rss.rs`.
//!
//! Each routine returns the summed length of the authors' names (every
//! choice counts its author once), so the work cannot be skipped and the
//! variants can be checked against each other:
//!
//! - [`typed`] (the headline baseline): hand-written diesel on a typed
//!   connection, three queries (`choice` unordered, `question::id.eq_any`,
//!   `author::id.eq_any`) and two `HashMap`s;
//! - [`diesel_any`]: the same code on the ORM's `AnyConnection`;
//! - [`orm_peers`]: `Choice::objects().unordered().load()`, then
//!   `c.question(conn)?.author(conn)?` for every choice under
//!   `FetchMode::Peers` (three queries: the first touch of each hop loads it
//!   for every peer).

use std::collections::HashMap;
use std::hint::black_box;

use diesel::prelude::*;
use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::AnyConnection;
use orm_tests::polls::{author, choice, question, Choice};

use crate::fixture::{self, AuthorRow, ChoiceRow, QuestionRow, CHOICES_PER_QUESTION};

/// Authors in the data set.
pub const AUTHORS: usize = 100;

/// Queries every variant runs.
pub const QUERIES: usize = 3;

/// The poll tables with `n` choices over `n / 10` questions and
/// [`AUTHORS`] authors, question `q` asked by author `q mod 100`.
pub fn setup(conn: &mut AnyConnection, n: usize) {
    fixture::create_poll_tables(conn).expect("create the poll tables");
    let questions = (n / CHOICES_PER_QUESTION).max(1);
    fixture::populate(conn, questions, n).expect("insert the questions and choices");
    fixture::add_authors(conn, AUTHORS).expect("insert the authors");
}

/// Hand-written diesel over a connection expression (`&mut AnyConnection`,
/// `&mut SqliteConnection`, `&mut PgConnection`): three queries, two hash
/// joins.
macro_rules! two_hop_diesel {
    ($conn:expr) => {{
        let conn = $conn;
        let rows: Vec<ChoiceRow> = choice::table.load(conn).expect("load the choice rows");
        let mut keys: Vec<i64> = rows.iter().map(|r| r.1).collect();
        keys.sort_unstable();
        keys.dedup();
        let questions: HashMap<i64, QuestionRow> = question::table
            .filter(question::id.eq_any(keys))
            .load::<QuestionRow>(conn)
            .expect("load the question rows")
            .into_iter()
            .map(|q| (q.0, q))
            .collect();
        let mut author_keys: Vec<i64> = questions.values().filter_map(|q| q.3).collect();
        author_keys.sort_unstable();
        author_keys.dedup();
        let authors: HashMap<i64, AuthorRow> = author::table
            .filter(author::id.eq_any(author_keys))
            .load::<AuthorRow>(conn)
            .expect("load the author rows")
            .into_iter()
            .map(|a| (a.0, a))
            .collect();
        let mut sum = 0;
        for row in &rows {
            let q = questions
                .get(&row.1)
                .expect("every choice has its question");
            let a = q.3.and_then(|k| authors.get(&k));
            sum += black_box(a).map_or(0, |a| a.1.len());
        }
        sum
    }};
}

/// Hand-written diesel on a typed connection (the headline baseline).
pub fn typed(conn: &mut AnyConnection) -> usize {
    crate::on_typed!(conn, c => two_hop_diesel!(c))
}

/// The same hand-written diesel on the ORM's `AnyConnection`.
pub fn diesel_any(conn: &mut AnyConnection) -> usize {
    two_hop_diesel!(conn)
}

/// The ORM under PEERS: load the choices unordered, touch both hops.
pub fn orm_peers(conn: &mut AnyConnection) -> usize {
    with_fetch_mode(FetchMode::Peers, || {
        let choices = Choice::objects()
            .unordered()
            .load(conn)
            .expect("load the choices");
        let mut sum = 0;
        for c in &choices {
            let q = c.question(conn).expect("touch choice.question");
            let a = q.author(conn).expect("touch question.author");
            sum += black_box(a).map_or(0, |a| a.name.len());
        }
        sum
    })
}
