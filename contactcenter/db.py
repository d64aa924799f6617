"""Database helpers shared by the apps."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler


class AnyOf(models.Lookup):
    """`field__any_of=ids`: `field IN ids` for hundreds of integer ids, with the ids as ONE parameter (an
    array on PostgreSQL, JSON on SQLite). With `__in` the SQL text grows with the list and every execution
    pays for building, escaping and re-parsing it (about 5 ms per query for 1,000 ids, measured in
    bench/routing.py). Pass a set: Django walks a list or tuple value element by element before any lookup
    sees it."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self) -> Any:
        return [int(value) for value in self.rhs]

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, tuple[Any, ...]]:
        values = list(self.rhs)
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        condition, param = any_of_sql(lhs, values, connection)
        return condition, (*lhs_params, param)


def any_of_sql(column: str, values: list[int], connection: BaseDatabaseWrapper) -> tuple[str, Any]:
    """`column` equal to one of `values`, the values as ONE parameter (see `AnyOf`); `column` is a compiled
    column reference, never user input."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", values
    return f"{column} IN (SELECT value FROM json_each(%s))", json.dumps(values)  # noqa: S608


class SqlNames:
    """Quoted table and column names of a model, for the few statements written in SQL (hot paths)."""

    def __init__(self, model: type[models.Model], connection: BaseDatabaseWrapper) -> None:
        quote = connection.ops.quote_name
        self.table = quote(model._meta.db_table)
        self._columns = {
            field.name: quote(field.column)
            for field in model._meta.concrete_fields
            if isinstance(field, models.Field) and field.column
        }

    def __getitem__(self, field_name: str) -> str:
        return self._columns[field_name]


models.Field.register_lookup(AnyOf)
models.ForeignObject.register_lookup(AnyOf)  # related fields only see lookups registered from here down
