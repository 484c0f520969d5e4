"""Switches the boiler on and off around the set point."""

from .schedule import Schedule

HYSTERESIS = 0.5  # degrees: the boiler switches on below set point - 0.5 and off above + 0.5
MIN_CYCLE_MINUTES = 10  # the boiler is never switched again within 10 minutes


class Controller:
    def __init__(self, schedule: Schedule):
        self.schedule = schedule
        self.boiler_on = False
        self.minutes_since_switch = MIN_CYCLE_MINUTES

    def step(self, weekday, hour, room_temperature, minutes=1):
        """Advances the clock by `minutes` and returns whether the boiler is on."""
        self.minutes_since_switch += minutes
        target = self.schedule.set_point(weekday, hour)
        if self.minutes_since_switch < MIN_CYCLE_MINUTES:
            return self.boiler_on
        if not self.boiler_on and room_temperature < target - HYSTERESIS:
            self._switch(True)
        elif self.boiler_on and room_temperature > target + HYSTERESIS:
            self._switch(False)
        return self.boiler_on

    def _switch(self, on):
        self.boiler_on = on
        self.minutes_since_switch = 0
