"""pyarrow schemas of the tables matchtag writes."""

from schemas.tables import KEYPOINT_COLUMNS, PARTITION_COLUMN, SCHEMA_VERSION, TABLE_SCHEMAS, TABLES, file_schema

__all__ = ["KEYPOINT_COLUMNS", "PARTITION_COLUMN", "SCHEMA_VERSION", "TABLE_SCHEMAS", "TABLES",
           "file_schema"]
