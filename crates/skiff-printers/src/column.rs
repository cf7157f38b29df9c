//! Table column definitions (`meta.k8s.io/v1` `TableColumnDefinition`).

use serde_json::{json, Value};

use crate::descriptions;

/// One column definition as sent in Table.columnDefinitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Human readable column name, e.g. "Name" or "Up-to-date".
    pub name: &'static str,
    /// OpenAPI type: "string", "integer", "date", "number" or "boolean".
    pub type_: &'static str,
    /// "name" for the Name column, "" otherwise.
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 = always shown, 1 = only with `-o wide`.
    pub priority: i32,
}

impl Column {
    /// A priority-0 column.
    pub const fn new(name: &'static str, type_: &'static str, description: &'static str) -> Self {
        Column {
            name,
            type_,
            format: "",
            description,
            priority: 0,
        }
    }

    /// The standard Name column (format "name").
    pub const fn name() -> Self {
        Column {
            name: "Name",
            type_: "string",
            format: "name",
            description: descriptions::OBJECT_NAME,
            priority: 0,
        }
    }

    /// The standard Age column: a string cell such as "5m".
    pub const fn age() -> Self {
        Column::new("Age", "string", descriptions::OBJECT_CREATION_TIMESTAMP)
    }

    /// The same column shown only with `-o wide`.
    pub const fn wide(self) -> Self {
        Column {
            priority: 1,
            ..self
        }
    }

    /// An owned copy, for tables that mix built-in and custom columns.
    pub fn to_owned_column(&self) -> ColumnOwned {
        ColumnOwned {
            name: self.name.to_string(),
            type_: self.type_.to_string(),
            format: self.format.to_string(),
            description: self.description.to_string(),
            priority: self.priority,
        }
    }

    /// The wire form: every field is always present, as upstream omits none.
    pub fn to_json(&self) -> Value {
        column_json(
            self.name,
            self.type_,
            self.format,
            self.description,
            self.priority,
        )
    }
}

/// A column definition whose strings are owned (custom resource columns).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnOwned {
    /// Human readable column name.
    pub name: String,
    /// OpenAPI type of the cells.
    pub type_: String,
    /// OpenAPI format hint ("name" for the Name column).
    pub format: String,
    /// What the column shows.
    pub description: String,
    /// 0 = always shown, 1 = only with `-o wide`.
    pub priority: i32,
}

impl ColumnOwned {
    /// The wire form: every field is always present, as upstream omits none.
    pub fn to_json(&self) -> Value {
        column_json(
            &self.name,
            &self.type_,
            &self.format,
            &self.description,
            self.priority,
        )
    }
}

impl From<Column> for ColumnOwned {
    fn from(c: Column) -> Self {
        c.to_owned_column()
    }
}

fn column_json(name: &str, type_: &str, format: &str, description: &str, priority: i32) -> Value {
    json!({
        "name": name,
        "type": type_,
        "format": format,
        "description": description,
        "priority": priority,
    })
}
