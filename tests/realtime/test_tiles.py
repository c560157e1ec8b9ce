"""The tile layout of a window with several live sources."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.sinks.tiles import compose, fit, tile_grid


@pytest.mark.parametrize(("n", "grid"), [(1, (1, 1)), (2, (2, 1)), (3, (2, 2)), (4, (2, 2)),
                                         (5, (3, 2)), (9, (3, 3))])
def test_grid_is_as_square_as_possible(n, grid):
    assert tile_grid(n) == grid


def test_each_source_lands_in_its_own_cell_in_order():
    tiles = [np.full((120, 160, 3), 50 * (i + 1), np.uint8) for i in range(2)]
    canvas = compose([tiles[0], None, tiles[1]], size=(160, 120))  # 3 sources: 2 x 2
    assert canvas.shape == (240, 320, 3)
    assert canvas[60, 80, 0] == 50 and canvas[180, 80, 0] == 100
    assert canvas[60, 240, 0] == 24  # an empty cell (a source not shown yet)


def test_fit_keeps_the_aspect_ratio():
    cell = fit(np.full((100, 400, 3), 200, np.uint8), (200, 200))
    assert cell.shape == (200, 200, 3)
    assert cell[100, 100, 0] == 200 and cell[10, 100, 0] == 24  # letterboxed top and bottom
