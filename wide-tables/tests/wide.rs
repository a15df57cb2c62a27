//! Models of 40 and 64 columns (and 100, feature `columns-128`) on every
//! backend: create the table, save,
//! load, filter and order by a column past the 32nd, update (by `save` and
//! by a queryset), bulk-create and refresh.

use orm_core::prelude::*;
use orm_core::schema;
use orm_tests::backend_tests;
#[cfg(feature = "columns-128")]
use orm_wide_tables::{wide100, Wide100};
use orm_wide_tables::{wide40, wide64, Fill, Wide40, Wide64};

/// The round trip of one wide model: `$model` with table module `$table`,
/// an `i32` column `$int` and a `String` column `$text` past the 32nd.
macro_rules! wide_round_trip {
    ($model:ident, $table:ident, $int:ident, $text:ident, $columns:expr) => {
        |db: &orm_tests::harness::TestDb| -> orm_core::Result<()> {
            assert_eq!($model::meta().columns.len(), $columns);
            let mut conn = db.get()?;
            schema::create_table::<$model>(&mut conn)?;

            // save inserts, and every column reads back as written.
            let mut a = $model::filled(1);
            let mut b = $model::filled(2);
            a.save(&mut conn)?;
            b.save(&mut conn)?;
            let a_id = a.id.expect("save fills the key");
            let b_id = b.id.expect("save fills the key");
            assert_ne!(a, b);
            assert_eq!($model::get(&mut conn, a_id)?, a);
            assert_eq!($model::get(&mut conn, b_id)?, b);

            // Filters and orderings on a column past the 32nd.
            let found = $model::objects()
                .filter($table::$text.eq(b.$text.clone()))
                .load(&mut conn)?;
            assert_eq!(found, [b.clone()]);
            let descending = $model::objects()
                .order_by($table::$int.desc())
                .load(&mut conn)?;
            assert_eq!(descending, [b.clone(), a.clone()]);

            // save of a stored row updates every column.
            let mut changed = $model::filled(3);
            changed.id = a.id;
            changed.save(&mut conn)?;
            assert_eq!($model::get(&mut conn, a_id)?, changed);
            assert_eq!($model::objects().count(&mut conn)?, 2);

            // A queryset update of a column past the 32nd.
            let updated = $model::objects()
                .filter($table::id.eq(b_id))
                .update(&mut conn, $table::$text.eq("updated"))?;
            assert_eq!(updated, 1);
            b.refresh_from_db(&mut conn)?;
            assert_eq!(b.$text, "updated");
            assert_eq!(
                b.$int,
                <i32 as Fill>::fill(2, column_number(stringify!($int)))
            );

            // bulk_create fills every key, and the rows read back whole.
            let mut more = [$model::filled(4), $model::filled(5)];
            $model::objects().bulk_create(&mut conn, &mut more)?;
            for row in &more {
                let id = row.id.expect("bulk_create fills the keys");
                assert_eq!(&$model::get(&mut conn, id)?, row);
            }
            assert_eq!($model::objects().count(&mut conn)?, 4);
            Ok(())
        }
    };
}

/// The number in a column name `cN`.
fn column_number(name: &str) -> i64 {
    name.trim_start_matches('c')
        .parse()
        .expect("a column named cN")
}

backend_tests! {
    fn forty_columns(db) {
        (wide_round_trip!(Wide40, wide40, c37, c38, 40))(db)
    }

    fn sixty_four_columns(db) {
        (wide_round_trip!(Wide64, wide64, c61, c62, 64))(db)
    }
}

#[cfg(feature = "columns-128")]
backend_tests! {
    fn one_hundred_columns(db) {
        (wide_round_trip!(Wide100, wide100, c97, c98, 100))(db)
    }
}
