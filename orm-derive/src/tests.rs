//! Snapshot tests of the expansion: each test derives a representative model
//! and compares the formatted output with `src/snapshots/`.
//!
//! After a deliberate change to the generated code, review the new output
//! with `INSTA_UPDATE=always cargo test -p orm-derive` (or `cargo insta
//! review`) and commit the updated snapshots.

use syn::DeriveInput;

/// The formatted expansion of `input`.
fn expand(input: DeriveInput) -> String {
    let tokens = crate::derive(&input);
    let file = syn::parse2::<syn::File>(tokens).expect("the expansion parses as a file");
    prettyplease::unparse(&file)
}

/// An auto-increment key and one text column: the smallest model.
fn minimal_input() -> DeriveInput {
    syn::parse_quote! {
        struct Note {
            #[orm(primary_key)]
            id: Option<i64>,
            body: String,
        }
    }
}

#[test]
fn minimal_model() {
    insta::assert_snapshot!(expand(minimal_input()));
}

/// The most formatted lines the minimal model may expand to (the design
/// brief's budget). Every line is compiled for every model of every app:
/// this test fails when the generated code creeps past it, so growing it
/// is a decision, not an accident.
const MINIMAL_MODEL_MAX_LINES: usize = 150;

#[test]
fn minimal_model_stays_within_its_line_budget() {
    let lines = expand(minimal_input()).lines().count();
    assert!(
        lines <= MINIMAL_MODEL_MAX_LINES,
        "the minimal model expands to {lines} lines, over the budget of {MINIMAL_MODEL_MAX_LINES}: \
         move the new code into orm-core behind the Model trait, or raise the budget deliberately"
    );
}

/// Every struct and column option: table, ordering, column, unique, index,
/// max_length, default, renamed_from, skip, and nullable fields.
#[test]
fn model_with_options() {
    let input: DeriveInput = syn::parse_quote! {
        #[orm(table = "polls_question", ordering = "-pub_date, id", renamed_from = "question")]
        pub struct Question {
            #[orm(primary_key)]
            pub id: Option<i32>,
            #[orm(column = "text", max_length = 200, unique, renamed_from = "title")]
            pub question_text: String,
            #[orm(default = -1)]
            pub rank: i16,
            #[orm(default = 0.5)]
            pub weight: f64,
            #[orm(default = true)]
            pub open: bool,
            #[orm(default = "it's new")]
            pub status: String,
            #[orm(index)]
            pub pub_date: chrono::NaiveDateTime,
            pub note: Option<String>,
            pub votes: Option<i64>,
            #[orm(skip)]
            pub scratch: Vec<String>,
        }
    };
    insta::assert_snapshot!(expand(input));
}

/// A key the user sets: no auto-increment, no RETURNING on insert.
#[test]
fn manual_string_primary_key() {
    let input: DeriveInput = syn::parse_quote! {
        pub struct Group {
            #[orm(primary_key, max_length = 50)]
            pub name: String,
            pub size: i32,
        }
    };
    insta::assert_snapshot!(expand(input));
}

/// A table named with an SQL keyword, and a column too.
#[test]
fn keyword_table_name() {
    let input: DeriveInput = syn::parse_str(
        r#"
        pub struct Order {
            #[orm(primary_key)]
            pub id: Option<i64>,
            #[orm(column = "group")]
            pub group_name: String,
        }
        "#,
    )
    .expect("the model parses");
    insta::assert_snapshot!(expand(input));
}

/// Relations: a nullable foreign key with a fetch mode, a to_field foreign
/// key, a reverse manager, a reverse one-to-one and a many-to-many with a
/// generated through model.
#[test]
fn model_with_relations() {
    let input: DeriveInput = syn::parse_quote! {
        #[orm(ordering = "-pub_date", fetch_mode = "peers")]
        pub struct Question {
            #[orm(primary_key)]
            pub id: Option<i64>,
            pub pub_date: chrono::NaiveDateTime,
            #[orm(null, on_delete = "set_null", fetch_mode = "raise")]
            pub author: ForeignKey<Author>,
            #[orm(to_field = "username", on_delete = "restrict")]
            pub owner: ForeignKey<User, String>,
            #[orm(reverse_of = "question")]
            pub choices: Related<Choice>,
            #[orm(reverse_of = "question")]
            pub detail: ReverseOneToOne<Detail>,
            #[orm(through_table = "question_tags")]
            pub tags: ManyToMany<Tag>,
        }
    };
    insta::assert_snapshot!(expand(input));
}

/// The reverse side of a many-to-many and an explicit through model.
#[test]
fn many_to_many_sides() {
    let input: DeriveInput = syn::parse_quote! {
        pub struct Tag {
            #[orm(primary_key)]
            pub id: Option<i64>,
            pub name: String,
            #[orm(reverse_of = "tags")]
            pub questions: ManyToMany<Question>,
            #[orm(through = "Membership", through_fields = "tag, group")]
            pub groups: ManyToMany<Group, String>,
        }
    };
    insta::assert_snapshot!(expand(input));
}

/// Input with errors: the errors, then a fallback keeping its uses elsewhere
/// compiling: the table of the columns that parsed (not `tags`, not the
/// second `text` column) and a `Model` impl with the model's key type.
#[test]
fn fallback_after_errors() {
    let input: DeriveInput = syn::parse_quote! {
        #[orm(ordering = "nope")]
        pub struct Group {
            #[orm(primary_key, max_length = 50)]
            pub name: String,
            #[orm(column = "text")]
            pub title: String,
            #[orm(column = "text")]
            pub body: String,
            pub tags: HashSet<String>,
        }
    };
    insta::assert_snapshot!(expand(input));
}

/// No primary key: the fallback table is keyed on its first column, and
/// the `Model` impl on `i64`. Not a struct: the `Model` impl alone.
#[test]
fn fallback_without_primary_key() {
    let no_key: DeriveInput = syn::parse_quote! {
        pub struct Note {
            pub body: String,
            pub id: Option<i64>,
        }
    };
    let not_a_struct: DeriveInput = syn::parse_quote! {
        pub enum Kind {
            A,
        }
    };
    insta::assert_snapshot!(format!("{}\n{}", expand(no_key), expand(not_a_struct)));
}

/// The expansion of the smallest model stays small: every line the derive
/// emits per model costs compile time in every app (see
/// docs/architecture.md). Raise the bound only with a reason.
#[test]
fn minimal_model_stays_under_150_lines() {
    let input: DeriveInput = syn::parse_quote! {
        struct Note {
            #[orm(primary_key)]
            id: Option<i64>,
            body: String,
        }
    };
    let lines = expand(input).lines().count();
    assert!(lines <= 150, "the minimal model expands to {lines} lines");
}

/// The column types beyond diesel's common set: a UUID key generated on
/// save (v4), a UUID foreign key, an instant and a decimal (read through
/// `DecimalColumn::to_places`).
#[test]
fn column_types_model() {
    let input: DeriveInput = syn::parse_quote! {
        pub struct Invoice {
            #[orm(primary_key, uuid = "v4")]
            pub id: Option<uuid::Uuid>,
            pub customer: ForeignKey<Customer, uuid::Uuid>,
            pub issued: chrono::DateTime<chrono::Utc>,
            #[orm(max_digits = 12, decimal_places = 2)]
            pub total: bigdecimal::BigDecimal,
        }
    };
    insta::assert_snapshot!(expand(input));
}

/// `#[derive(OrmEnum)]`: the variant table, and `FromSql`, `ToSql` and
/// `AsExpression` for text and integer storage, each a call of orm-core.
#[test]
fn orm_enum() {
    let input: DeriveInput = syn::parse_quote! {
        pub enum Status {
            Draft,
            #[orm(value = "live")]
            Published = 5,
        }
    };
    let tokens = crate::enums::derive(&input);
    let file = syn::parse2::<syn::File>(tokens).expect("the expansion parses as a file");
    insta::assert_snapshot!(prettyplease::unparse(&file));
}

/// A model with enum columns stored as text and as an integer.
#[test]
fn model_with_choices() {
    let input: DeriveInput = syn::parse_quote! {
        pub struct Task {
            #[orm(primary_key)]
            pub id: Option<i64>,
            #[orm(choices)]
            pub status: Status,
            #[orm(choices = "integer")]
            pub priority: Option<Priority>,
        }
    };
    insta::assert_snapshot!(expand(input));
}

/// A struct with a key and `plain` more `i32` columns.
fn wide_model(plain: usize) -> DeriveInput {
    let fields = (1..=plain).map(|i| quote::format_ident!("c{i}"));
    syn::parse_quote! {
        pub struct Wide {
            #[orm(primary_key)]
            pub id: Option<i64>,
            #(pub #fields: i32,)*
        }
    }
}

/// Up to 128 columns are accepted (diesel's `128-column-tables` limit;
/// whether the app's diesel has the feature is `diesel::table!`'s to say),
/// and every column is in the table; a 129th is the derive's error.
#[test]
fn column_count_limit_is_diesels_largest() {
    let widest = expand(wide_model(127));
    assert!(
        !widest.contains("compile_error"),
        "128 columns are rejected"
    );
    assert!(
        widest.contains("c127 -> Integer"),
        "the 128th column is missing"
    );
    let too_wide = expand(wide_model(128));
    assert!(
        too_wide.contains("a model maps at most 128 columns"),
        "129 columns are accepted"
    );
}
