use orm_core::prelude::*;

#[derive(Model)]
struct Invoice {
    #[orm(primary_key)]
    id: Option<i64>,
    // On a text field.
    #[orm(decimal_places = 2)]
    note: String,
    // One without the other.
    #[orm(max_digits = 10)]
    total: bigdecimal::BigDecimal,
    #[orm(decimal_places = 2)]
    tax: bigdecimal::BigDecimal,
    // More places than digits.
    #[orm(max_digits = 4, decimal_places = 6)]
    rate: bigdecimal::BigDecimal,
    // Past MySQL's limits.
    #[orm(max_digits = 66, decimal_places = 2)]
    huge: bigdecimal::BigDecimal,
    // Not an integer.
    #[orm(max_digits = "10", decimal_places = 2)]
    quoted: bigdecimal::BigDecimal,
}

fn main() {}
