"""Weekly heating schedule: which temperature the room should have at a given time."""

DEFAULT_SET_POINT = 16.0   # degrees Celsius, outside the scheduled periods
MIN_SET_POINT = 5.0        # frost protection
MAX_SET_POINT = 26.0


class Schedule:
    """Periods of the week with their set points.

    A period is (weekday, start_hour, end_hour, set_point); weekday 0 is Monday and the end hour
    is exclusive. Later periods win where periods overlap.
    """

    def __init__(self, periods=None):
        self.periods = list(periods or [])

    def add(self, weekday, start_hour, end_hour, set_point):
        if not 0 <= weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        if not 0 <= start_hour < end_hour <= 24:
            raise ValueError("hours must satisfy 0 <= start < end <= 24")
        set_point = min(max(set_point, MIN_SET_POINT), MAX_SET_POINT)
        self.periods.append((weekday, start_hour, end_hour, set_point))

    def set_point(self, weekday, hour):
        """The set point for a weekday and hour, or DEFAULT_SET_POINT outside every period."""
        result = DEFAULT_SET_POINT
        for day, start, end, value in self.periods:
            if day == weekday and start <= hour < end:
                result = value
        return result


def office_schedule():
    """Working days 7:00 to 18:00 at 21 degrees."""
    s = Schedule()
    for day in range(5):
        s.add(day, 7, 18, 21.0)
    return s
