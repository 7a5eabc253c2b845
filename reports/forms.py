"""The report's filters, the same for the page, the CSV and the API: a period, a tenant, a severity."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils import timezone

from incidents.models import Severity
from mdrportal.core.users import AnyUser
from reports.periods import Period, days, month_of, previous_month
from tenants.models import Tenant
from tenants.selectors import tenants_for_user

LONGEST_RANGE_DAYS = 366
FIRST_YEAR, LAST_YEAR = 2000, 2999


class ReportFilterForm(forms.Form):
    """Which incidents a report covers: those opened in the period, of the user's tenants."""

    period = forms.ChoiceField(
        choices=[("this_month", "This month"), ("last_month", "Last month"), ("range", "From … to …")],
        required=False,
        initial="this_month",
    )
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), required=False, empty_label="All my customers", label="Customer"
    )
    severity = forms.ChoiceField(choices=[("", "Every severity"), *Severity.choices], required=False)

    def __init__(self, *args: Any, user: AnyUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Another tenant's id is "not one of the available choices", whether or not it exists.
        tenant = cast("forms.ModelChoiceField[Tenant]", self.fields["tenant"])  # the field declared above
        tenant.queryset = tenants_for_user(user).order_by("name")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("period") == "range":
            start, end = data.get("start"), data.get("end")
            if start is None:
                self.add_error("start", "Give the first day of the range.")
            if end is None:
                self.add_error("end", "Give the last day of the range.")
            for name, day in (("start", start), ("end", end)):
                if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
                    self.add_error(name, f"Give a day between {FIRST_YEAR} and {LAST_YEAR}.")
                    return data
            if start and end and end < start:
                self.add_error("end", "The last day cannot come before the first.")
            elif start and end and (end - start).days >= LONGEST_RANGE_DAYS:
                self.add_error("end", f"A report covers at most {LONGEST_RANGE_DAYS} days.")
        return data

    def report_period(self) -> Period:
        today = timezone.now().date()
        period = self.cleaned_data.get("period") or "this_month"
        if period == "last_month":
            return previous_month(today)
        if period == "range":
            return days(self.cleaned_data["start"], self.cleaned_data["end"])
        return month_of(today)

    def filters(self) -> dict[str, Any]:
        """The keyword arguments of reports.selectors for the valid form."""
        return {
            "period": self.report_period(),
            "tenant": self.cleaned_data.get("tenant"),
            "severity": self.cleaned_data.get("severity") or "",
        }
