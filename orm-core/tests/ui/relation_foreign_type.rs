use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
pub struct User {
    #[orm(primary_key)]
    pub id: Option<i64>,
}

mod mine {
    use std::ops::{Deref, DerefMut};

    /// A wrapper of orm_core's `ForeignKey` under the same name: the derive
    /// reads it as a relation by its name, so it must say it is not one.
    pub struct ForeignKey<T: orm_core::Model>(pub orm_core::ForeignKey<T>);

    impl<T: orm_core::Model> Deref for ForeignKey<T> {
        type Target = orm_core::ForeignKey<T>;
        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }

    impl<T: orm_core::Model> DerefMut for ForeignKey<T> {
        fn deref_mut(&mut self) -> &mut Self::Target {
            &mut self.0
        }
    }
}

#[derive(Model)]
pub struct Book {
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub author: mine::ForeignKey<User>,
}

fn main() {}
