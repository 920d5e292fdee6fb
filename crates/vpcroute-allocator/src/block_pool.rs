//! `BlockPool`: CIDR blocks carved out of one or more roots, buddy-system style.
//!
//! Used twice by the control plane: a zone pool whose roots are the zone's
//! super-CIDRs (VPC CIDRs are allocated from it) and a VPC pool whose single
//! root is the VPC CIDR (tier subnets are allocated from it).
//!
//! # Why a buddy system
//! Every block ever handed out is an aligned power-of-two block, so the free
//! space of a root is always a set of aligned blocks. Keeping one ordered set
//! of free block starts per prefix length makes the two questions we care
//! about cheap:
//! * "smallest free block that can hold a /p" = first non-empty free list
//!   scanning from p towards 0: at most `bits` emptiness checks;
//! * "lowest such block" = first element of that ordered set.
//!
//! So an allocation costs O(bits × log n) no matter how fragmented the pool
//! is; nothing ever scans the free blocks. The expensive case is actually
//! the *empty* pool: a /28 out of a whole /8 splits through 20 levels and its
//! release merges them back, while in a fragmented pool a block of the right
//! size is usually waiting (BENCHMARKS.md §1: `alloc+release`). A single set
//! ordered by `(prefix, start)`, which turns the search into two range
//! queries, was measured and was slower on every scenario, so per-prefix
//! sets it is.
//!
//! # Roots
//! Roots are arbitrary CIDRs and need not be buddies of each other (a zone
//! may own `10.0.0.0/16` and `10.1.0.0/20`). Merging therefore stops at the
//! root's prefix length: a root's free space never merges with a neighbour's.
//! Invariant: within a root, no two free blocks are buddies, which makes the
//! free-block set unique for a given set of allocations.
//!
//! # Counting
//! An IPv6 `/0` root holds 2^128 addresses, one more than a `u128` can count.
//! Rather than keeping running totals that could overflow, the pool counts
//! blocks per prefix length (counts of blocks always fit: they are bounded by
//! memory) and [`BlockPool::usage`] turns them into address counts in
//! O(bits) with saturating arithmetic: figures are exact up to `u128::MAX`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::cidr::ensure_canonical;
use crate::error::AllocError;
use crate::family::{addr_to_u128, block_size, half_bit, host_mask, make_net, net_parts, Family};

/// Address counts of one family of a [`BlockPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Usage {
    /// Addresses in all roots (saturates at `u128::MAX`).
    pub total: u128,
    /// Addresses in allocated blocks (saturates at `u128::MAX`).
    pub used: u128,
    /// Addresses in free blocks (saturates at `u128::MAX`).
    pub free: u128,
    /// One of the largest free blocks (the lowest-addressed one), if any.
    pub largest_free: Option<IpNet>,
}

/// The state of one address family. All addresses are `u128`s (IPv4
/// zero-extended), all prefix lengths are `<= bits`.
#[derive(Debug, Clone)]
struct Space {
    family: Family,
    bits: u8,
    /// `free[p]`: starts of the free `/p` blocks.
    free: Vec<BTreeSet<u128>>,
    /// Allocated blocks: start -> prefix length. Blocks never overlap, so
    /// the start is a unique key and range queries find overlaps.
    allocated: BTreeMap<u128, u8>,
    /// `allocated_per_prefix[p]`: number of allocated `/p` blocks.
    allocated_per_prefix: Vec<u64>,
    /// Roots: start -> prefix length (disjoint).
    roots: BTreeMap<u128, u8>,
    /// `roots_per_prefix[p]`: number of `/p` roots.
    roots_per_prefix: Vec<u64>,
}

impl Space {
    fn new(family: Family) -> Self {
        let levels = usize::from(family.bits()) + 1;
        Space {
            family,
            bits: family.bits(),
            free: vec![BTreeSet::new(); levels],
            allocated: BTreeMap::new(),
            allocated_per_prefix: vec![0; levels],
            roots: BTreeMap::new(),
            roots_per_prefix: vec![0; levels],
        }
    }

    #[inline]
    fn last(&self, start: u128, prefix: u8) -> u128 {
        start | host_mask(self.bits, prefix)
    }

    #[inline]
    fn net(&self, start: u128, prefix: u8) -> IpNet {
        make_net(self.family, start, prefix)
    }

    /// The root that contains the aligned block `start/prefix`, if any.
    fn root_of(&self, start: u128, prefix: u8) -> Option<(u128, u8)> {
        let (&root_start, &root_prefix) = self.roots.range(..=start).next_back()?;
        let inside =
            root_prefix <= prefix && start & !host_mask(self.bits, root_prefix) == root_start;
        inside.then_some((root_start, root_prefix))
    }

    /// The root that contains an address, if any.
    fn root_of_addr(&self, addr: u128) -> Option<(u128, u8)> {
        let (&root_start, &root_prefix) = self.roots.range(..=addr).next_back()?;
        (addr <= self.last(root_start, root_prefix)).then_some((root_start, root_prefix))
    }

    /// Some entry of a disjoint-block map that overlaps `[first, last]`:
    /// either the block starting at or before `first` reaches `first`, or a
    /// block starts inside the range. Two O(log n) range queries.
    fn overlapping(&self, map: &BTreeMap<u128, u8>, first: u128, last: u128) -> Option<(u128, u8)> {
        if let Some((&s, &p)) = map.range(..=first).next_back() {
            if self.last(s, p) >= first {
                return Some((s, p));
            }
        }
        map.range(first..=last).next().map(|(&s, &p)| (s, p))
    }

    fn check_prefix(&self, prefix: u8) -> Result<(), AllocError> {
        if prefix > self.bits {
            Err(AllocError::InvalidPrefixLen {
                family: self.family,
                prefix_len: prefix,
                max: self.bits,
            })
        } else {
            Ok(())
        }
    }

    /// Smallest prefix length (largest block) with a free block, and the
    /// lowest such block. O(bits).
    fn largest_free(&self) -> Option<(u128, u8)> {
        self.free
            .iter()
            .enumerate()
            .find_map(|(p, set)| set.first().map(|&s| (s, p as u8)))
    }

    fn mark_allocated(&mut self, start: u128, prefix: u8) {
        self.allocated.insert(start, prefix);
        let count = &mut self.allocated_per_prefix[usize::from(prefix)];
        *count = count.saturating_add(1);
    }

    fn add_root(&mut self, start: u128, prefix: u8) -> Result<(), AllocError> {
        let last = self.last(start, prefix);
        if let Some((s, p)) = self.overlapping(&self.roots, start, last) {
            return Err(AllocError::RootOverlap {
                net: self.net(start, prefix),
                with: self.net(s, p),
            });
        }
        self.roots.insert(start, prefix);
        let count = &mut self.roots_per_prefix[usize::from(prefix)];
        *count = count.saturating_add(1);
        self.free[usize::from(prefix)].insert(start);
        Ok(())
    }

    fn remove_root(&mut self, start: u128, prefix: u8) -> Result<(), AllocError> {
        if self.roots.get(&start) != Some(&prefix) {
            return Err(AllocError::NotARoot {
                net: self.net(start, prefix),
            });
        }
        let last = self.last(start, prefix);
        if let Some((s, p)) = self.overlapping(&self.allocated, start, last) {
            return Err(AllocError::RootInUse {
                root: self.net(start, prefix),
                allocated: self.net(s, p),
            });
        }
        // With nothing allocated, merging has restored the root as a single
        // free block; remove it. The loop below is a defensive sweep that
        // only matters if that invariant were ever broken.
        if !self.free[usize::from(prefix)].remove(&start) {
            for level in self.free.iter_mut() {
                let inside: Vec<u128> = level.range(start..=last).copied().collect();
                for s in inside {
                    level.remove(&s);
                }
            }
        }
        self.roots.remove(&start);
        let count = &mut self.roots_per_prefix[usize::from(prefix)];
        *count = count.saturating_sub(1);
        Ok(())
    }

    /// Best fit: the first non-empty free list from `prefix` towards 0 holds
    /// the smallest blocks that fit; its lowest block is the one to split.
    /// Returns that free block `(start, level)`; the allocation is its
    /// lowest `/prefix` part, so it starts at `start` too. Read-only: the
    /// question "what would you hand out" that ipam's `decide` asks.
    fn best_fit(&self, prefix: u8) -> Result<(u128, u8), AllocError> {
        self.check_prefix(prefix)?;
        (0..=prefix)
            .rev()
            .find_map(|level| {
                self.free[usize::from(level)]
                    .first()
                    .map(|&start| (start, level))
            })
            .ok_or(AllocError::NoSpace {
                family: self.family,
                requested_prefix: prefix,
                largest_free: self.largest_free().map(|(_, p)| p),
            })
    }

    /// Takes the [`Space::best_fit`] block, keeps its lowest `/prefix` part
    /// and frees the upper buddies created by the split.
    fn allocate(&mut self, prefix: u8) -> Result<u128, AllocError> {
        let (start, level) = self.best_fit(prefix)?;
        self.free[usize::from(level)].remove(&start);
        for r in level + 1..=prefix {
            self.free[usize::from(r)].insert(start | half_bit(self.bits, r));
        }
        self.mark_allocated(start, prefix);
        Ok(start)
    }

    /// The free block that contains exactly `start/prefix` (already checked
    /// canonical): the only candidates are its ancestors (or itself), one
    /// per prefix length. Returns its level. Read-only: "is this block
    /// free".
    fn free_container(&self, start: u128, prefix: u8) -> Result<u8, AllocError> {
        self.check_prefix(prefix)?;
        let net = self.net(start, prefix);
        let (_, root_prefix) = self
            .root_of(start, prefix)
            .ok_or(AllocError::OutsidePool { target: net })?;
        if let Some(level) = (root_prefix..=prefix).find(|&level| {
            self.free[usize::from(level)].contains(&(start & !host_mask(self.bits, level)))
        }) {
            return Ok(level);
        }
        // Not covered by a free block, so (the root being partitioned into
        // free and allocated blocks) something allocated overlaps it.
        let with = self
            .overlapping(&self.allocated, start, self.last(start, prefix))
            .map_or(net, |(s, p)| self.net(s, p));
        Err(AllocError::Overlap { net, with })
    }

    /// Reserves exactly `start/prefix` (already checked canonical).
    fn reserve(&mut self, start: u128, prefix: u8) -> Result<(), AllocError> {
        let level = self.free_container(start, prefix)?;
        let candidate = start & !host_mask(self.bits, level);
        self.free[usize::from(level)].remove(&candidate);
        // Walk down towards the request, freeing the half we leave.
        let mut current = candidate;
        for r in level + 1..=prefix {
            let half = half_bit(self.bits, r);
            if start & half != 0 {
                self.free[usize::from(r)].insert(current);
                current |= half;
            } else {
                self.free[usize::from(r)].insert(current | half);
            }
        }
        self.mark_allocated(start, prefix);
        Ok(())
    }

    /// Releases exactly an allocated block and merges it with free buddies,
    /// never above its root's prefix length.
    fn release(&mut self, start: u128, prefix: u8) -> Result<(), AllocError> {
        self.check_prefix(prefix)?;
        if self.allocated.get(&start) != Some(&prefix) {
            return Err(AllocError::NotAllocated {
                net: self.net(start, prefix),
            });
        }
        self.allocated.remove(&start);
        let count = &mut self.allocated_per_prefix[usize::from(prefix)];
        *count = count.saturating_sub(1);

        let root_prefix = self.root_of(start, prefix).map_or(prefix, |(_, p)| p);
        let (mut start, mut prefix) = (start, prefix);
        while prefix > root_prefix {
            let half = half_bit(self.bits, prefix);
            if !self.free[usize::from(prefix)].remove(&(start ^ half)) {
                break;
            }
            start &= !half;
            prefix -= 1;
        }
        self.free[usize::from(prefix)].insert(start);
        Ok(())
    }

    /// Sum of `count[p] * size(p)`, saturating at `u128::MAX`.
    fn addresses(&self, count_at: impl Fn(usize) -> u128) -> u128 {
        (0..=self.bits).fold(0u128, |acc, p| {
            let n = count_at(usize::from(p));
            let amount = match block_size(self.bits, p) {
                _ if n == 0 => 0,
                Some(size) => size.saturating_mul(n),
                None => u128::MAX,
            };
            acc.saturating_add(amount)
        })
    }

    fn usage(&self) -> Usage {
        Usage {
            total: self.addresses(|p| u128::from(self.roots_per_prefix[p])),
            used: self.addresses(|p| u128::from(self.allocated_per_prefix[p])),
            free: self.addresses(|p| self.free[p].len() as u128),
            largest_free: self.largest_free().map(|(s, p)| self.net(s, p)),
        }
    }

    fn free_blocks(&self) -> impl Iterator<Item = (u128, u8)> + '_ {
        self.free
            .iter()
            .enumerate()
            .flat_map(|(p, set)| set.iter().map(move |&s| (s, p as u8)))
    }

    fn check_invariants(&self) -> Result<(), String> {
        let fam = self.family;
        // Counters.
        let levels = usize::from(self.bits) + 1;
        let mut alloc = vec![0u64; levels];
        let mut roots = vec![0u64; levels];
        for &p in self.allocated.values() {
            alloc[usize::from(p)] += 1;
        }
        for &p in self.roots.values() {
            roots[usize::from(p)] += 1;
        }
        if alloc != self.allocated_per_prefix || roots != self.roots_per_prefix {
            return Err(format!("{fam}: per-prefix counters are off"));
        }
        // Free and allocated blocks tile each root exactly.
        let mut blocks: Vec<(u128, u8, bool)> = self
            .free_blocks()
            .map(|(s, p)| (s, p, true))
            .chain(self.allocated.iter().map(|(&s, &p)| (s, p, false)))
            .collect();
        blocks.sort_unstable();
        let mut iter = blocks.iter().peekable();
        for (&root_start, &root_prefix) in &self.roots {
            let root_last = self.last(root_start, root_prefix);
            let mut expect = Some(root_start);
            while let Some(&&(s, p, is_free)) = iter.peek() {
                if s > root_last {
                    break;
                }
                iter.next();
                let net = self.net(s, p);
                if s & host_mask(self.bits, p) != 0 {
                    return Err(format!("{fam}: block {net} is not aligned"));
                }
                if Some(s) != expect || p < root_prefix {
                    return Err(format!("{fam}: block {net} breaks the tiling of its root"));
                }
                if is_free && p > root_prefix {
                    let buddy = s ^ half_bit(self.bits, p);
                    if self.free[usize::from(p)].contains(&buddy) {
                        return Err(format!("{fam}: free block {net} has a free buddy"));
                    }
                }
                let last = self.last(s, p);
                expect = if last == root_last {
                    None
                } else {
                    Some(last + 1)
                };
            }
            if expect.is_some() {
                let root = self.net(root_start, root_prefix);
                return Err(format!("{fam}: root {root} is not fully covered"));
            }
        }
        if let Some(&(s, p, _)) = iter.next() {
            return Err(format!(
                "{fam}: block {} lies outside every root",
                self.net(s, p)
            ));
        }
        Ok(())
    }
}

/// A pool of CIDR blocks carved out of one or more roots, for both families.
///
/// See the module documentation for the design. All operations are
/// O(bits × log n) except [`BlockPool::check_invariants`].
#[derive(Debug, Clone)]
pub struct BlockPool {
    v4: Space,
    v6: Space,
}

impl Default for BlockPool {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockPool {
    /// An empty pool with no roots.
    pub fn new() -> Self {
        BlockPool {
            v4: Space::new(Family::V4),
            v6: Space::new(Family::V6),
        }
    }

    /// A pool with the given roots (see [`BlockPool::add_root`]).
    pub fn with_roots<I: IntoIterator<Item = IpNet>>(roots: I) -> Result<Self, AllocError> {
        let mut pool = Self::new();
        for root in roots {
            pool.add_root(root)?;
        }
        Ok(pool)
    }

    fn space(&self, family: Family) -> &Space {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    fn space_mut(&mut self, family: Family) -> &mut Space {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }

    /// Adds a root (a canonical CIDR). Errors: `InvalidCidr` if host bits
    /// are set, `RootOverlap` if it overlaps an existing root. Any prefix
    /// length is accepted, including `0.0.0.0/0` and `::/0`.
    pub fn add_root(&mut self, net: IpNet) -> Result<(), AllocError> {
        let net = ensure_canonical(net)?;
        let (family, start, prefix) = net_parts(&net);
        self.space_mut(family).add_root(start, prefix)
    }

    /// Removes a root. Errors: `InvalidCidr`, `NotARoot` if `net` is not
    /// exactly a root, `RootInUse` if anything inside it is allocated.
    pub fn remove_root(&mut self, net: IpNet) -> Result<(), AllocError> {
        let net = ensure_canonical(net)?;
        let (family, start, prefix) = net_parts(&net);
        self.space_mut(family).remove_root(start, prefix)
    }

    /// Allocates a `/prefix_len` block: best fit (smallest free block that
    /// can hold it), lowest address among those. Errors: `InvalidPrefixLen`,
    /// `NoSpace` naming the largest free block's prefix length.
    pub fn allocate(&mut self, family: Family, prefix_len: u8) -> Result<IpNet, AllocError> {
        let space = self.space_mut(family);
        let start = space.allocate(prefix_len)?;
        Ok(make_net(family, start, prefix_len))
    }

    /// The block [`BlockPool::allocate`] would hand out now, without
    /// taking it; the same errors.
    pub fn next_allocation(&self, family: Family, prefix_len: u8) -> Result<IpNet, AllocError> {
        let (start, _) = self.space(family).best_fit(prefix_len)?;
        Ok(make_net(family, start, prefix_len))
    }

    /// Whether [`BlockPool::reserve`] of `net` would succeed now, without
    /// reserving it; the same errors.
    pub fn check_reserve(&self, net: IpNet) -> Result<(), AllocError> {
        let net = ensure_canonical(net)?;
        let (family, start, prefix) = net_parts(&net);
        self.space(family).free_container(start, prefix).map(|_| ())
    }

    /// Reserves exactly `net` (e.g. a CIDR chosen by an operator, or state
    /// restored at start-up). Errors: `InvalidCidr` if host bits are set
    /// (naming the canonical form), `OutsidePool` if no root contains it,
    /// `Overlap` naming an allocated block it overlaps.
    pub fn reserve(&mut self, net: IpNet) -> Result<(), AllocError> {
        let net = ensure_canonical(net)?;
        let (family, start, prefix) = net_parts(&net);
        self.space_mut(family).reserve(start, prefix)
    }

    /// Releases exactly an allocated block, merging free buddies back
    /// together (never across roots). Errors: `InvalidCidr`, `NotAllocated`.
    pub fn release(&mut self, net: IpNet) -> Result<(), AllocError> {
        let net = ensure_canonical(net)?;
        let (family, start, prefix) = net_parts(&net);
        self.space_mut(family).release(start, prefix)
    }

    /// Whether an address lies inside some root.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.space(Family::of_addr(&addr))
            .root_of_addr(addr_to_u128(addr))
            .is_some()
    }

    /// Whether a network lies entirely inside one root (host bits ignored).
    pub fn contains_net(&self, net: IpNet) -> bool {
        let (family, start, prefix) = net_parts(&net.trunc());
        self.space(family).root_of(start, prefix).is_some()
    }

    /// Whether `net` is exactly an allocated block.
    pub fn is_allocated(&self, net: IpNet) -> bool {
        let (family, start, prefix) = net_parts(&net);
        net.trunc() == net && self.space(family).allocated.get(&start) == Some(&prefix)
    }

    /// The root that contains `net` entirely, if any (host bits ignored).
    pub fn root_of(&self, net: IpNet) -> Option<IpNet> {
        let (family, start, prefix) = net_parts(&net.trunc());
        let space = self.space(family);
        space.root_of(start, prefix).map(|(s, p)| space.net(s, p))
    }

    /// Allocated blocks: IPv4 first, then IPv6, each in address order.
    pub fn allocated(&self) -> impl Iterator<Item = IpNet> + '_ {
        [&self.v4, &self.v6]
            .into_iter()
            .flat_map(|sp| sp.allocated.iter().map(move |(&s, &p)| sp.net(s, p)))
    }

    /// Roots: IPv4 first, then IPv6, each in address order.
    pub fn roots(&self) -> impl Iterator<Item = IpNet> + '_ {
        [&self.v4, &self.v6]
            .into_iter()
            .flat_map(|sp| sp.roots.iter().map(move |(&s, &p)| sp.net(s, p)))
    }

    /// Free blocks: IPv4 first, then IPv6; within a family by prefix length
    /// (largest blocks first), then address. For diagnostics and tests.
    pub fn free_blocks(&self) -> impl Iterator<Item = IpNet> + '_ {
        [&self.v4, &self.v6]
            .into_iter()
            .flat_map(|sp| sp.free_blocks().map(move |(s, p)| sp.net(s, p)))
    }

    /// Address counts of one family, O(bits).
    pub fn usage(&self, family: Family) -> Usage {
        self.space(family).usage()
    }

    /// Verifies the internal invariants (free and allocated blocks aligned
    /// and exactly tiling the roots, no two free buddies, counters right).
    /// O(n log n): meant for tests and debug assertions, not hot paths.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.v4.check_invariants()?;
        self.v6.check_invariants()
    }
}
