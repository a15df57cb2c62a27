//! Constraint and index names longer than an identifier may be (63 bytes
//! on PostgreSQL, 64 on MySQL): they are shortened with a hash, so the
//! tables are created on every backend and the constraints work.

use orm_core::prelude::*;
use orm_core::OrmError;
use orm_tests::backend_tests;

#[derive(Model, Debug, Clone, Default)]
#[orm(table = "warehouse_with_a_table_name_that_is_rather_long")]
pub struct Warehouse {
    #[orm(primary_key)]
    pub id: Option<i64>,
    #[orm(max_length = 40, unique)]
    pub a_fairly_long_and_descriptive_column_name: String,
}

#[derive(Model, Debug, Clone, Default)]
#[orm(
    table = "inventory_item_with_a_table_name_that_is_rather_long",
    unique_together = "warehouse_identifier, stock_keeping_unit_code"
)]
pub struct InventoryItem {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub warehouse_identifier: ForeignKey<Warehouse>,
    #[orm(max_length = 40, index)]
    pub stock_keeping_unit_code: String,
}

backend_tests! {
    fn long_constraint_names_are_shortened_and_still_enforced(db) {
        let mut conn = db.get()?;
        orm_core::schema::create_tables(&mut conn, &[Warehouse::meta(), InventoryItem::meta()])?;
        let mut warehouse = Warehouse { a_fairly_long_and_descriptive_column_name: "north".into(), ..Default::default() };
        warehouse.save(&mut conn)?;
        let item = || {
            let mut item = InventoryItem { stock_keeping_unit_code: "sku-1".into(), ..Default::default() };
            item.warehouse_identifier.set_key(warehouse.id);
            item
        };
        item().save(&mut conn)?;
        // The unique_together constraint is there.
        let err = item().save(&mut conn).unwrap_err();
        assert!(matches!(err, OrmError::Database(_)), "{err}");
        assert_eq!(InventoryItem::objects().count(&mut conn)?, 1);
        Ok(())
    }
}
