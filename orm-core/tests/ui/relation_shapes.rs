use orm_core::prelude::*;

#[derive(Model)]
struct Team {
    #[orm(primary_key)]
    id: Option<i64>,
}

#[derive(Model)]
struct Player {
    #[orm(primary_key)]
    id: Option<i64>,
    // Type arguments: the target, then the key type.
    team: ForeignKey<Team, i64, i64>,
    captain: OneToOne,
    // A through model or a table name, not both.
    #[orm(through = "Team", through_table = "player_teams")]
    teams: ManyToMany<Team>,
    // `through_fields` names fields of a through model.
    #[orm(through_fields = "player, team")]
    rivals: ManyToMany<Team>,
    // `reverse_of` names a field.
    #[orm(reverse_of = "the team")]
    mates: Related<Player>,
    many: ManyToMany<Team, i64, i64>,
    // `renamed_from` renames a generated through table only.
    #[orm(through_table = "player_clubs", renamed_from = "teams_before")]
    clubs: ManyToMany<Team>,
}

// Keys are i16, i32, i64, String or Uuid.
#[derive(Model)]
struct Coach {
    #[orm(primary_key)]
    id: Option<i64>,
    team: ForeignKey<Team, u32>,
}

fn main() {}
