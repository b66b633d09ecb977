"""A valid description's sites by name, each parsed only when something asks for it.

Planning one site of a 5,000-site fleet needs that site, the control plane and, for
every other site, only its name and a digest of its settings (to see that its plan is
unchanged). A `Fleet` holds exactly that: a `SiteRef` per site (from the validation
memo when the site's file did not change) and a way to parse a site or the whole
`Deployment` on demand. `frame` is the deployment-wide settings with the control
plane as its only site: enough to plan any edge, which never looks at other edges.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from dcn.model.description import Deployment, Site


def site_model_digest(site: Site) -> str:
    """Digest of a site's validated settings: equal digests, equal sites."""
    text = json.dumps(site.model_dump(), sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SiteRef:
    """What planning needs of a site it may not re-plan."""

    name: str
    control_plane: bool
    #: `site_model_digest` of the site
    digest: str
    #: (network, cidr) of each leaf: the control plane routes to every edge leaf
    leaves: tuple[tuple[str, str], ...]
    #: whether the site sets config_overrides (checked against its plan after planning)
    overrides: bool

    @classmethod
    def of(cls, site: Site) -> SiteRef:
        return cls(
            site.name,
            site.is_control_plane,
            site_model_digest(site),
            tuple((net, sub.cidr) for net, sub in site.networks.items()),
            bool(site.config_overrides),
        )


class Fleet:
    """The sites of a valid description, in order, parsed when asked for."""

    def __init__(
        self,
        frame: Deployment,
        refs: Sequence[SiteRef],
        parse_site: Callable[[int], Site],
        parse_all: Callable[[], Deployment],
    ) -> None:
        #: deployment-wide settings; its sites are the control plane only
        self.frame = frame
        self.refs = list(refs)
        self._parse_site = parse_site
        self._parse_all = parse_all
        self._index = {ref.name: i for i, ref in reversed(list(enumerate(self.refs)))}
        self._parsed: dict[int, Site] = {}

    @classmethod
    def of(cls, deployment: Deployment) -> Fleet:
        """The fleet of an already parsed deployment (nothing left to parse)."""
        cp = deployment.control_plane
        frame = deployment.model_copy(update={"sites": [cp] if cp else []})
        fleet = cls(
            frame,
            [SiteRef.of(s) for s in deployment.sites],
            deployment.sites.__getitem__,
            lambda: deployment,
        )
        fleet.__dict__["deployment"] = deployment
        return fleet

    @property
    def name(self) -> str:
        return self.frame.name

    @property
    def names(self) -> list[str]:
        return [ref.name for ref in self.refs]

    def ref(self, name: str) -> SiteRef | None:
        index = self._index.get(name)
        return None if index is None else self.refs[index]

    def index(self, name: str) -> int:
        return self._index[name]

    @property
    def control_plane(self) -> SiteRef | None:
        return next((ref for ref in self.refs if ref.control_plane), None)

    def site(self, name: str) -> Site:
        """The parsed site `name` (KeyError if there is none)."""
        index = self._index[name]
        found = self._parsed.get(index)
        if found is None:
            if "deployment" in self.__dict__:
                found = self.deployment.sites[index]
            else:
                found = self._parse_site(index)
            self._parsed[index] = found
        return found

    @cached_property
    def deployment(self) -> Deployment:
        """Every site parsed: for commands that look at the whole fleet."""
        return self._parse_all()

    def adopt(self, earlier: Fleet) -> bool:
        """Take `earlier`'s parsed sites when the description says the same (equal
        settings and equal site digests), so a long-running reader (`dcn serve`) that
        reads the files again does not parse 5,000 sites again; whether it did."""
        parsed = earlier.__dict__.get("deployment")
        if parsed is None or self.frame != earlier.frame or self.refs != earlier.refs:
            return False
        self.__dict__["deployment"] = parsed
        return True

    def control_plane_context(self) -> str:
        """What the control plane's plan depends on outside its own site: the edge leaves."""
        return edge_leaves_text(
            (ref.name, net, cidr)
            for ref in self.refs
            if not ref.control_plane
            for net, cidr in ref.leaves
        )


def edge_leaves_text(leaves: Iterable[tuple[str, str, str]]) -> str:
    """(site, network, cidr) of every edge leaf as one text, in a fixed order: site and
    network names and CIDRs hold no space or line break (the schema allows none)."""
    return "\n".join(sorted(f"{site} {net} {cidr}" for site, net, cidr in leaves))
