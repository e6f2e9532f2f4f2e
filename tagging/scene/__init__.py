"""Scene context around the people: the ball and the grass (pitch) edge, per frame and person."""
