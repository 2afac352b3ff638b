pub mod cloudwatch;
