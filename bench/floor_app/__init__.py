"""The minimal message pipeline of bench/floor_budget.py: Django + channels + channels-redis + PostgreSQL with
none of the product's business logic. Bench-only; never installed in the product."""
