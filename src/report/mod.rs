//! Reports for finance and platform leads: weekly ops review, leaderboards,
//! spend per business volume, quarterly trends. The questions are SQL files in
//! `queries/`; this module runs them and renders HTML, Markdown, CSV and Parquet.
