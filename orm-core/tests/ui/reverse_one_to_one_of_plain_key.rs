use orm_core::prelude::*;

#[derive(Model, Clone, Default)]
pub struct User {
    #[orm(primary_key)]
    id: Option<i64>,
    // `Profile.user` is a plain foreign key: a user may have many profiles.
    #[orm(reverse_of = "user")]
    profile: ReverseOneToOne<Profile>,
}

#[derive(Model, Clone, Default)]
pub struct Profile {
    #[orm(primary_key)]
    id: Option<i64>,
    user: ForeignKey<User>,
}

fn main() {}
