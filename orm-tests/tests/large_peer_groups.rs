//! Large peer groups: 100,000 choices, each with its own question. Touching
//! `question` on each under PEERS costs exactly one query per IN-list chunk
//! (`ceil(100000 / max_in_list())`) on every backend, with the right values;
//! and a peer group whose instances are all dropped is freed.
//!
//! There is no public way to observe a peer group, so freeing is observed
//! through memory: this test binary counts the bytes live on each thread
//! (see [`Counting`]); dropping the instances of a 100,000-member group must
//! give back everything the group and its loaded targets took.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use chrono::NaiveDate;
use orm_core::fetch::{with_fetch_mode, FetchMode};
use orm_core::{capture_queries, AnyConnection, BackendKind};
use orm_tests::backend_tests;
use orm_tests::polls::*;

/// Rows of each table.
const N: usize = 100_000;

/// Rows per INSERT when filling the tables: 3 values a row stay far below
/// every backend's bind limit (SQLite 32,766; PostgreSQL and MySQL 65,535).
const INSERT_CHUNK: usize = 5_000;

// ---------------------------------------------------------------------------
// Live bytes per thread
// ---------------------------------------------------------------------------

/// The system allocator, counting the bytes allocated minus the bytes freed
/// by each thread. Tests read the count of their own thread, so tests
/// running in parallel (under `cargo test`) do not disturb each other.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // Thread-local access can fail while a thread is torn down; the count
    // of such a thread no longer matters.
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

/// Bytes allocated and not freed by this thread so far.
fn live_bytes() -> isize {
    LIVE.with(Cell::get)
}

fn size(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

// SAFETY: every method forwards to `System` with the caller's arguments,
// and only adds bookkeeping on a thread-local counter, which allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(size(layout.size()));
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count(size(layout.size()));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        count(-size(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            count(size(new_size) - size(layout.size()));
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

fn setup(conn: &mut AnyConnection) -> orm_core::Result<()> {
    create_all(conn)
}

fn questions(n: usize) -> Vec<Question> {
    let day = NaiveDate::from_ymd_opt(2026, 4, 1)
        .and_then(|d| d.and_hms_opt(10, 0, 0))
        .unwrap_or_default();
    (0..n)
        .map(|i| Question {
            question_text: format!("q{i}"),
            pub_date: day,
            ..Default::default()
        })
        .collect()
}

/// `N` questions `q{i}` and `N` choices `c{i}`, choice `i` pointing at
/// question `i`: every choice has its own parent. Inserted in chunks.
fn fill(conn: &mut AnyConnection) -> orm_core::Result<()> {
    let mut qs = questions(N);
    for chunk in qs.chunks_mut(INSERT_CHUNK) {
        Question::objects().bulk_create(conn, chunk)?;
    }
    let mut choices = one_choice_each(&qs);
    drop(qs);
    for chunk in choices.chunks_mut(INSERT_CHUNK) {
        Choice::objects().bulk_create(conn, chunk)?;
    }
    Ok(())
}

/// Touches `question` on every choice under PEERS; returns how many queries ran.
fn touch_all(conn: &mut AnyConnection, choices: &[Choice]) -> orm_core::Result<usize> {
    let (checked, log) = capture_queries(conn, |c| {
        with_fetch_mode(FetchMode::Peers, || {
            choices.iter().try_for_each(|ch| {
                let q = ch.question(c)?;
                assert_eq!(q.id.as_ref(), ch.question.key(), "{}", ch.choice_text);
                assert_eq!(
                    &q.question_text[1..],
                    &ch.choice_text[1..],
                    "choice {} got the wrong question",
                    ch.choice_text
                );
                Ok(())
            })
        })
    });
    checked.map(|()| log.count())
}

/// Loads every choice, touches one under PEERS (which loads every question),
/// and drops them all.
fn load_touch_drop(conn: &mut AnyConnection) -> orm_core::Result<isize> {
    let start = live_bytes();
    let choices = Choice::objects().load(conn)?;
    assert_eq!(choices.len(), N);
    with_fetch_mode(FetchMode::Peers, || {
        choices[N / 2].question(conn).map(|_| ())
    })?;
    assert!(choices[0].question.is_loaded() && choices[N - 1].question.is_loaded());
    let held = live_bytes() - start;
    drop(choices);
    Ok(held)
}

backend_tests! {
    fn touching_100k_distinct_parents_costs_one_query_per_in_list_chunk(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        fill(&mut conn)?;
        let chunks = N.div_ceil(conn.backend().max_in_list());
        assert_eq!(
            chunks,
            match conn.backend() {
                BackendKind::Sqlite => 4,
                BackendKind::Postgres | BackendKind::Mysql => 2,
            }
        );
        let choices = Choice::objects().load(&mut conn)?;
        assert_eq!(choices.len(), N);
        let queries = touch_all(&mut conn, &choices)?;
        assert_eq!(queries, chunks, "one query per IN-list chunk");
        // Loaded for every peer: touching again costs nothing.
        assert_eq!(touch_all(&mut conn, &choices)?, 0);

        // A group with one survivor fetches for that one only.
        let again = Choice::objects().load(&mut conn)?;
        let survivor = again[N / 3].clone();
        drop(again);
        let (text, log) = capture_queries(&mut conn, |c| {
            with_fetch_mode(FetchMode::Peers, || survivor.question(c).map(|q| q.question_text.clone()))
        });
        assert_eq!(text?, format!("q{}", &survivor.choice_text[1..]));
        assert_eq!(log.count(), 1);
        let sql = log.queries()[0].to_owned();
        let binds = sql.split("binds: [").nth(1).unwrap_or("");
        assert_eq!(binds.trim_end_matches(']').split(',').count(), 1, "{sql}");
        Ok(())
    }

    fn a_dropped_100k_peer_group_is_freed(db) {
        let mut conn = db.get()?;
        setup(&mut conn)?;
        fill(&mut conn)?;
        // Warm up (statement caches, buffers), then measure.
        load_touch_drop(&mut conn)?;
        let before = live_bytes();
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(load_touch_drop(&mut conn)?);
        }
        let leaked = live_bytes() - before;
        // 100,000 choices and their 100,000 questions take megabytes while
        // loaded; the groups, cells and targets go with the last instance.
        assert!(held.iter().all(|&h| h > 10 << 20), "held while loaded: {held:?}");
        assert!(
            leaked < 256 << 10,
            "{leaked} bytes still live after dropping two loads (each held {held:?})"
        );
        Ok(())
    }
}

/// One `bulk_create` call with 100,000 questions (300,000 values): the
/// backend's bind limit must not make it fail.
fn bulk_create_100k_in_one_call(db: &orm_tests::harness::TestDb) -> orm_core::Result<()> {
    let mut conn = db.get()?;
    setup(&mut conn)?;
    let mut qs = questions(N);
    Question::objects().bulk_create(&mut conn, &mut qs)?;
    assert!(qs.iter().all(|q| q.id.is_some()));
    assert_eq!(Question::objects().count(&mut conn)?, N as i64);
    Ok(())
}

mod bulk_create_100k_rows_in_one_call {
    use super::*;

    #[test]
    fn sqlite() {
        orm_tests::harness::run_on(BackendKind::Sqlite, bulk_create_100k_in_one_call);
    }

    #[test]
    fn postgres() {
        orm_tests::harness::run_on(BackendKind::Postgres, bulk_create_100k_in_one_call);
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql() {
        orm_tests::harness::run_on(BackendKind::Mysql, bulk_create_100k_in_one_call);
    }
}
