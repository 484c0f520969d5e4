"""Room thermostat: the weekly schedule and the boiler controller."""
