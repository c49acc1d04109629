"""Real, benign photographs shipped inside Debian and PyPI packages, for the recall benchmarks.

Generated images (hashwarden.synthetic) are smooth gradients: they say little about how PDQ
behaves on the photographs a bank really holds. These are stock photographs (landscapes,
animals, buildings, food, objects) that packages ship as wallpapers, game pictures or sample
data. Each file was looked at: drawings, renders, paintings, screenshots, cut-outs on a flat
background and photographs of people were left out (a mural or a poster may show figures), and
so was any picture that is a near copy of another one (a stereo pair, the same monument
photographed twice): no two of the 303 are within PDQ distance 86 of each other, turned or not,
and the benchmark reports the nearest unrelated pair at every run. No picture is cut in pieces.

| package (registry) | what | photos |
| --- | --- | --- |
| gcompris-qt-data (Debian) | animals, monuments, fish, sea floor (inside Qt .rcc archives) | 135 |
| scratch (Debian) | backgrounds: streets, buildings, nature, sports grounds (480x360) | 53 |
| opencv-doc (Debian) | OpenCV's sample pictures (examples/data and others) | 29 |
| tuxpaint-data (Debian) | drawing templates: bark, cliffs, sea, trees, sheep | 19 |
| lomiri-wallpapers-16.04, -20.04 (Debian) | Ubuntu contest wallpapers | 16 |
| mate-backgrounds (Debian) | "nature" wallpapers: flowers, grass, dunes | 12 |
| plasma-workspace-wallpapers (Debian) | KDE wallpapers that are photographs | 12 |
| scribus-template (Debian) | template pictures: moon, eclipse, food, kites | 9 |
| palapeli-data (Debian) | jigsaw puzzle photos | 5 |
| scikit-image (PyPI) | skimage.data pictures that are photographs | 13 |
| all | | 303 |

Install with `apt-get install --no-install-recommends` on the Debian names (benchmarks/apt.txt)
and `pip install scikit-image` (benchmarks/requirements.txt). A package that is missing only
shrinks the corpus; `missing_packages()` names it. GCompris keeps its pictures inside Qt
resource archives: `photo_paths()` extracts the chosen ones once into a cache folder
(~/.cache/hashwarden-bench/gcompris, or $HASHWARDEN_BENCH_CACHE), byte for byte.
"""

from __future__ import annotations

import importlib.util
import os
import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SOURCES", "Source", "missing_packages", "photo_paths", "split_corpus"]


@dataclass(frozen=True)
class Source:
    """Photos of one package: `names` are paths under `root` (for gcompris-qt-data,
    "archive.rcc:member" pairs); `pypi` names a Python package whose folder is the root."""

    package: str
    root: str
    names: tuple[str, ...]
    pypi: str | None = None


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_GC = "/gcompris/src/activities"
_FISH = " ".join(
    f"categorization.rcc:{_GC}/categorization/resource/images/fishes/fish{n}.webp"
    for n in (2, 5, 9, 10, 11, 12, 13, 14, 15, 16, 19, 20, 21, 23, 24, 26, 27)
)
_ERASE = " ".join(
    f"erase.rcc:{_GC}/erase/resource/{n}.webp"
    for n in _split(
        "alpaca bee butterfly calf camels caterpillar chamaeleon cheetah crab dolphin flying_fox "
        "gibbon giraffe goat gorilla gosling heron horse kingfisher kitten long_nosed_monkey "
        "macaque meerkats northern_harrier nubian_ibex penguin pika red_panda rhinoceros "
        "spoonbills squirrel swans toucan"
    )
)
_MONUMENTS = " ".join(
    f"explore_monuments.rcc:{_GC}/explore_monuments/resource/{n}.webp"
    for n in _split(
        "egypt/bentPyramid egypt/greatPyramidOfGiza egypt/meidumPyramid france/arlesAmphitheater "
        "france/chateaudeChambord france/chateaudeChenonceau france/citedeCarcassonne "
        "france/eiffelTower france/montStMichel france/palaisdesPapes france/pontduGard "
        "france/reimsCathedral france/rocamadour germany/aulaPalatina germany/berlinCathedral "
        "germany/brandenburgGate germany/neuschwansteinCastle germany/schwerinPalace "
        "germany/trierImperialBaths germany/wormsCathedral india/ajantaCave india/charminar "
        "india/gatewayofIndia india/goldenTemple india/greatStupa india/hawaMahal "
        "india/konarkSunTemple india/mysorePalace india/qutubMinar india/rangGhar "
        "usa/canyondeChelly usa/castillodeSanMarcos usa/castleClinton usa/fortSumter "
        "usa/georgeWashingtonBirthplace usa/lincolnMemorial usa/mountRushmore usa/navajo "
        "usa/statueofLiberty wonders/chichenItza wonders/christTheRedeemer wonders/colosseum "
        "wonders/greatWallofChina wonders/machuPicchu wonders/petra wonders/tajMahal"
    )
)
_WORLD_ANIMALS = " ".join(
    f"explore_world_animals.rcc:{_GC}/explore_world_animals/resource/animals/{n}.webp"
    for n in _split(
        "bison chameleon crocodile dragon giraffe hedgehog jaguar kangaroo koala lemur moose "
        "narwhal panda polar_bear"
    )
)
_FARM = " ".join(
    f"explore_farm_animals.rcc:{_GC}/explore_farm_animals/resource/animals/{n}.webp"
    for n in _split("chicken cow dog horse pig sheep")
)
# The "details" pictures that are photographs; those of the same monuments as in
# explore_monuments (Chenonceau, Neuschwanstein, Taj Mahal) are near copies and left out.
_DETAILS = " ".join(
    f"details.rcc:{_GC}/details/resource/image/{n}_background.webp"
    for n in _split(
        "EgeskovSlotSpejling EilanDonanCastle FanoeWindmill GizahPyramids Louvre_2007_02_24_c "
        "NDP Nagoya OperaSidney TowerBridgeLondon"
    )
)
_OTHER_GC = " ".join(
    [f"clickgame.rcc:{_GC}/clickgame/resource/sea{n}.webp" for n in range(1, 7)]
    + [
        f"categorization.rcc:{_GC}/categorization/resource/images/{n}.webp"
        for n in ("monuments/monument1", "renewable/dam2", "renewable/solar4", "renewable/solar5")
    ]
)

SOURCES: tuple[Source, ...] = (
    Source(
        "gcompris-qt-data",
        "/usr/share/gcompris-qt/rcc",
        _split(" ".join([_FISH, _ERASE, _MONUMENTS, _WORLD_ANIMALS, _FARM, _DETAILS, _OTHER_GC])),
    ),
    Source(
        "scratch",
        "/usr/share/scratch/Media/Backgrounds",
        _split(
            "Indoors/chalkboard.jpg Indoors/clothing-store.jpg Indoors/hall.jpg "
            "Indoors/kitchen.jpg Indoors/the-movies-inside.jpg Nature/beach-malibu.jpg "
            "Nature/canyon.jpg Nature/flower-bed.jpg Nature/forest.jpg Nature/garden-rock.jpg "
            "Nature/grand-canyon.jpg Nature/gravel-desert.jpg Nature/hill.jpg Nature/lake.jpg "
            "Nature/moon.jpg Nature/pathway.jpg Nature/tree.jpg Nature/water-and-rocks.jpg "
            "Nature/wave.jpg Outdoors/all-sports-mural.jpg Outdoors/atom-playground.jpg "
            "Outdoors/bench-with-view.jpg Outdoors/berkeley-mural.jpg Outdoors/boardwalk.jpg "
            "Outdoors/brick-wall-and-stairs.jpg Outdoors/brick-wall1.jpg Outdoors/brick-wall2.jpg "
            "Outdoors/building-at-mit.jpg Outdoors/building-fireproof.jpg Outdoors/castle.jpg "
            "Outdoors/city-with-water.jpg Outdoors/city-with-water2.jpg Outdoors/driveway.jpg "
            "Outdoors/hallway_outdoors.jpg Outdoors/hay_field.jpg Outdoors/houses.jpg "
            "Outdoors/mansion.jpg Outdoors/mural-faro.jpg Outdoors/parking-ramp.jpg "
            "Outdoors/pool.jpg Outdoors/route66.jpg Outdoors/silos.jpg Outdoors/the-movies.jpg "
            "Outdoors/train-tracks1.jpg Outdoors/train-tracks2.jpg Outdoors/village.jpg "
            "Outdoors/wooden-house.jpg Sports/baseball-field.jpg Sports/basketball-court1-a.jpg "
            "Sports/basketball-court1-b.jpg Sports/football-field.jpg Sports/playing-field.jpg "
            "Sports/tennis-backboard.jpg"
        ),
    ),
    Source(
        "opencv-doc",
        "/usr/share/doc/opencv-doc/examples",
        _split(
            "alphamat/input_images/plant.jpg data/aero1.jpg data/aloeL.jpg data/apple.jpg "
            "data/baboon.jpg data/board.jpg data/box_in_scene.png data/building.jpg "
            "data/butterfly.jpg data/chicky_512.png data/ela_original.jpg data/fruits.jpg "
            "data/graf1.png data/home.jpg data/leuvenA.jpg data/licenseplate_motion.jpg "
            "data/orange.jpg data/rubberwhale1.png data/squirrel_cls.jpg data/sudoku.png "
            "dnn_superres/butterfly.png hfs/data/000.jpg reg/home.png text/scenetext01.jpg "
            "text/scenetext02.jpg text/scenetext03.jpg text/scenetext04.jpg "
            "text/scenetext05.jpg text/scenetext06.jpg"
        ),
    ),
    Source(
        "tuxpaint-data",
        "/usr/share/tuxpaint/templates",
        _split(
            "burnt_bark.jpg cliff.jpg corn_maze.jpg jellyfish.jpg lighthouse.jpg mossy_bark.jpg "
            "mossy_log.jpg mudstone.jpg ocean_splash.jpg ocean_waves.jpg redwoods_above.jpg "
            "rocks.jpg sheep.jpg spiders_web.jpg sun_behind_clouds.jpg sun_behind_leaves.jpg "
            "trees_above.jpg trees_at_dusk.jpg wool_mill_machine.jpg"
        ),
    ),
    Source(
        "lomiri-wallpapers-16.04",
        "/usr/share/backgrounds",
        _split(
            "Bridge_by_Sander_Klootwijk.jpg Dragonfly_by_Bolly.jpg Picture_0B_by_freespace.jpg "
            "Picture_1A_by_freespace.jpg Wine_by_Jakkub_Mede.jpg "
            "aitzgorri_by_Aitzol_Berasategi.jpg analogpattern_by_Peter_Nerlich.jpg "
            "free_by_Peter_Nerlich.jpg friends_by_Aitzol_Berasategi.jpg "
            "greentock_by_Peter_Nerlich.jpg life_by_Aitzol_Berasategi.jpg "
            "picosdeeuropa_by_Aitzol_Berasategi.jpg seeding_by_Clements_Engelhardt.jpg "
            "sunset_by_Aitzol_Berasategi.jpg"
        ),
    ),
    Source(
        "lomiri-wallpapers-20.04",
        "/usr/share/backgrounds",
        _split("Infinite-Sea_by_Aury88.jpg Kleiber_by_Lukas_Baubkus.jpg"),
    ),
    Source(
        "mate-backgrounds",
        "/usr/share/backgrounds/mate/nature",
        _split(
            "Aqua.jpg Blinds.jpg Dune.jpg FreshFlower.jpg Garden.jpg GreenMeadow.jpg LadyBird.jpg "
            "RainDrops.jpg Storm.jpg TwoWings.jpg Wood.jpg YellowFlower.jpg"
        ),
    ),
    Source(
        "plasma-workspace-wallpapers",
        "/usr/share/wallpapers",
        (
            *(
                f"{name}/contents/images/2560x1600.jpg"
                for name in _split(
                    "BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey "
                    "Kite OneStandsOut Path summer_1am"
                )
            ),
            "Volna/contents/images/5120x2880.jpg",
        ),
    ),
    Source(
        "scribus-template",
        "/usr/share/scribus/templates",
        _split(
            "br2/brightness.jpg br2/halfmoon.jpg br2/moon.jpg br2/nature.jpg br2/sunset.jpg "
            "cal2/moon.jpg menu1/teriyaki.png menu2/pizza.jpg nl1-bw/kites-bw.png"
        ),
    ),
    Source(
        "palapeli-data",
        "/usr/share/palapeli/collection",
        _split(
            "castle-maintenon.jpg cincinnati-bridge.jpg citrus-fruits.jpg european-honey-bee.jpg "
            "panther-chameleon-female.jpg"
        ),
    ),
    Source(
        "scikit-image",
        "data",
        _split(
            "brick.png cell.png chelsea.png coffee.png coins.png grass.png gravel.png "
            "hubble_deep_field.jpg ihc.png moon.png motorcycle_left.png retina.jpg rocket.jpg"
        ),
        pypi="skimage",
    ),
)


def _root(source: Source) -> Path | None:
    if source.pypi is None:
        return Path(source.root)
    spec = importlib.util.find_spec(source.pypi)  # finds the folder without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / source.root


def missing_packages() -> list[str]:
    """Packages of SOURCES that are not installed here (their photos are left out)."""
    missing = []
    for source in SOURCES:
        root = _root(source)
        first = source.names[0].split(":")[0]
        if root is None or not (root / first).exists():
            missing.append(source.package)
    return missing


def _cache_dir() -> Path:
    base = os.environ.get("HASHWARDEN_BENCH_CACHE") or Path.home() / ".cache" / "hashwarden-bench"
    return Path(base) / "gcompris"


def _rcc_members(archive: Path) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every file in a Qt resource archive (.rcc, format 1 to 3)."""
    data = archive.read_bytes()
    if data[:4] != b"qres":
        raise ValueError(f"{archive} is not a Qt resource archive")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    node_size = 22 if version >= 2 else 14

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        start = names + offset + 6
        return data[start : start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        at = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[at : at + 6])
        name = name_at(name_offset) if index else ""
        if flags & 2:  # a directory
            count, first = struct.unpack(">II", data[at + 6 : at + 14])
            for child in range(first, first + count):
                yield from walk(child, f"{prefix}{name}/")
            return
        (offset,) = struct.unpack(">I", data[at + 10 : at + 14])
        (size,) = struct.unpack(">I", data[payload + offset : payload + offset + 4])
        raw = data[payload + offset + 4 : payload + offset + 4 + size]
        if flags & 1:  # zlib, after a 4-byte length (qCompress)
            raw = zlib.decompress(raw[4:])
        yield f"{prefix}{name}", raw

    yield from walk(0, "")


def _gcompris_paths(source: Source, root: Path) -> list[Path]:
    cache = _cache_dir()
    wanted: dict[str, dict[str, Path]] = {}
    for name in source.names:
        archive, member = name.split(":", 1)
        target = cache / archive.removesuffix(".rcc") / member.rsplit("/", 1)[-1]
        wanted.setdefault(archive, {})[member] = target
    for archive, members in wanted.items():
        if all(t.exists() for t in members.values()):
            continue
        for member, raw in _rcc_members(root / archive):
            target = members.get(member)
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(raw)
    return [t for members in wanted.values() for t in members.values() if t.exists()]


def photo_paths() -> list[Path]:
    """Every photo of SOURCES installed here, in a fixed order (packages as listed)."""
    paths: list[Path] = []
    for source in SOURCES:
        if source.package in missing_packages():
            continue
        root = _root(source)
        assert root is not None
        if source.package == "gcompris-qt-data":
            paths.extend(_gcompris_paths(source, root))
        else:
            paths.extend(root / name for name in source.names if (root / name).exists())
    return paths


def split_corpus(
    paths: list[Path], originals: int = 120, seed: int = 15
) -> tuple[list[Path], list[Path]]:
    """(originals, unrelated): a seeded shuffle, the first `originals` banked, the rest never."""
    order = sorted(paths)
    random.Random(seed).shuffle(order)
    return order[:originals], order[originals:]


if __name__ == "__main__":
    found = photo_paths()
    print(f"{len(found)} photos; missing packages: {', '.join(missing_packages()) or 'none'}")
