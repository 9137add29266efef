"""The data set's schema: one place that names the label and the features, in model order.

Channel CSVs have no header (the SageMaker convention for CSV training data), so the order defined here is
the contract between the data step, training, the server's CSV input and the drift report.
"""

from __future__ import annotations

LABEL = "defaulted"
"""Binary target: 1 if the borrower defaulted within 12 months."""

FEATURES: tuple[str, ...] = (
    "age",  # years, integer
    "income_k",  # annual income in thousands
    "debt_to_income",  # monthly debt payments / monthly income
    "credit_utilization",  # revolving balance / revolving limit, 0..1
    "late_payments_12m",  # count of payments 30+ days late in the last 12 months
    "credit_history_years",  # age of the oldest credit line
    "open_accounts",  # number of open credit lines
    "recent_inquiries",  # hard inquiries in the last 6 months
)

N_FEATURES = len(FEATURES)
