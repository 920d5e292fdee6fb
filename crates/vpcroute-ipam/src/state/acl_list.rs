//! Network ACL lists: a VPC's own lists, their rules, and the list each
//! tier uses (one of its VPC's, or a built-in one).

use super::*;

impl IpamState {
    /// `acl` may serve a tier of `vpc`: a built-in list, or one of the VPC's own.
    pub(super) fn check_acl_of(&self, acl: &str, vpc: &str) -> Result<(), IpamError> {
        if acl::is_builtin(acl) {
            return Ok(());
        }
        self.own_acl(acl, vpc).map(|_| ())
    }

    /// One of `vpc`'s own lists. A list of another VPC is refused: a rule
    /// written for one VPC's addresses means nothing in another.
    pub(super) fn own_acl(&self, acl: &str, vpc: &str) -> Result<&Acl, IpamError> {
        match self.acls.get(acl) {
            Some(a) if a.vpc == vpc => Ok(a),
            // Not naming the owner: list names are global, VPCs are tenants'.
            Some(_) => Err(IpamError::UnknownAcl(format!(
                "{acl:?}: not a list of VPC {vpc:?}"
            ))),
            None => Err(IpamError::UnknownAcl(format!("{acl:?}"))),
        }
    }

    pub(super) fn acl(&self, name: &str) -> Result<&Acl, IpamError> {
        if acl::is_builtin(name) {
            return Err(IpamError::InvalidRequest(format!(
                "{name:?} is a built-in list: it cannot be changed or deleted"
            )));
        }
        self.acls
            .get(name)
            .ok_or_else(|| IpamError::UnknownAcl(format!("{name:?}")))
    }

    pub(super) fn tiers_of_acl<'a>(
        &'a self,
        acl: &'a str,
    ) -> impl Iterator<Item = &'a String> + 'a {
        let vpc = self.acls.get(acl).map(|a| a.vpc.as_str());
        vpc.and_then(|v| self.vpcs.get(v))
            .into_iter()
            .flat_map(|v| v.tiers.keys())
            .filter(move |t| self.tiers[*t].acl.as_deref() == Some(acl))
    }

    pub(super) fn decide_acl_create(&self, c: &acl::AclCreate) -> Result<Decision, IpamError> {
        check_name("ACL list", &c.acl)?;
        if c.acl == acl::NO_LIST {
            return Err(IpamError::InvalidRequest(format!(
                "{:?} is reserved: it shows a tier with no list",
                acl::NO_LIST
            )));
        }
        if self.acls.contains_key(&c.acl) || acl::is_builtin(&c.acl) {
            return Err(IpamError::AlreadyExists {
                kind: "ACL list",
                name: c.acl.clone(),
            });
        }
        let vpc = self.vpc(&c.vpc)?;
        Ok(Decision {
            stream: zone_stream(&vpc.zone),
            reply: to_json(&AclView {
                acl: c.acl.clone(),
                vpc: c.vpc.clone(),
                rules: vec![],
                tiers: vec![],
            }),
            events: vec![IpamEvent::AclCreated {
                acl: c.acl.clone(),
                vpc: c.vpc.clone(),
            }],
        })
    }

    pub(super) fn decide_acl_delete(&self, c: &msg::Release) -> Result<Decision, IpamError> {
        let a = self.acl(&c.name)?;
        let tiers: Vec<&String> = self.tiers_of_acl(&c.name).collect();
        if let Some(t) = tiers.first() {
            return Err(IpamError::AclInUse {
                acl: c.name.clone(),
                tiers: format!("{} tier(s), e.g. {t:?}", tiers.len()),
            });
        }
        Ok(Decision {
            stream: zone_stream(&self.vpcs[&a.vpc].zone),
            reply: to_json(&self.acl_view(&c.name)?),
            events: vec![IpamEvent::AclDeleted {
                acl: c.name.clone(),
                vpc: a.vpc.clone(),
            }],
        })
    }

    pub(super) fn decide_acl_rule_add(&self, c: &acl::AclRuleAdd) -> Result<Decision, IpamError> {
        let a = self.acl(&c.acl)?;
        let rule = c
            .to_rule(|s| parse_cidr(s).map_err(|e| e.to_string()))
            .map_err(|p| match p {
                acl::RuleProblem::Cidr(m) => IpamError::InvalidCidr(m),
                acl::RuleProblem::Field(m) => IpamError::InvalidRequest(m),
            })?;
        if a.rules.contains_key(&rule.number) {
            return Err(IpamError::AlreadyExists {
                kind: "ACL rule",
                name: format!("{} of list {}", rule.number, c.acl),
            });
        }
        if a.rules.len() >= acl::LIST_RULES_MAX {
            return Err(IpamError::InvalidRequest(format!(
                "ACL list {:?} already holds {} rules, the most a list may hold",
                c.acl,
                acl::LIST_RULES_MAX
            )));
        }
        let mut view = self.acl_view(&c.acl)?;
        view.rules.push(rule.clone());
        view.rules.sort_by_key(|r| r.number);
        Ok(Decision {
            stream: zone_stream(&self.vpcs[&a.vpc].zone),
            reply: to_json(&view),
            events: vec![IpamEvent::AclRuleAdded {
                acl: c.acl.clone(),
                vpc: a.vpc.clone(),
                rule,
            }],
        })
    }

    pub(super) fn decide_acl_rule_delete(
        &self,
        c: &acl::AclRuleDelete,
    ) -> Result<Decision, IpamError> {
        let a = self.acl(&c.acl)?;
        if !a.rules.contains_key(&c.number) {
            return Err(IpamError::UnknownAclRule {
                acl: c.acl.clone(),
                number: c.number,
            });
        }
        let mut view = self.acl_view(&c.acl)?;
        view.rules.retain(|r| r.number != c.number);
        Ok(Decision {
            stream: zone_stream(&self.vpcs[&a.vpc].zone),
            reply: to_json(&view),
            events: vec![IpamEvent::AclRuleDeleted {
                acl: c.acl.clone(),
                vpc: a.vpc.clone(),
                number: c.number,
            }],
        })
    }

    pub(super) fn decide_tier_set_acl(&self, c: &acl::TierSetAcl) -> Result<Decision, IpamError> {
        let tier = self.tier(&c.tier)?;
        self.check_acl_of(&c.acl, &tier.vpc)?;
        Ok(Decision {
            stream: zone_stream(&self.vpcs[&tier.vpc].zone),
            reply: to_json(&TierAclRecord {
                tier: c.tier.clone(),
                vpc: tier.vpc.clone(),
                acl: c.acl.clone(),
                previous: tier.acl.clone(),
            }),
            events: vec![IpamEvent::TierAclSet {
                tier: c.tier.clone(),
                vpc: tier.vpc.clone(),
                acl: c.acl.clone(),
            }],
        })
    }

    /// `AclCreated`: an empty list of a VPC.
    pub(super) fn apply_acl_created(&mut self, acl: &str, vpc: &str) -> Result<(), IpamError> {
        if self.acls.contains_key(acl) || acl::is_builtin(acl) {
            return Err(bad(format!("ACL list {acl:?} created twice")));
        }
        let v = self
            .vpcs
            .get_mut(vpc)
            .ok_or_else(|| bad(format!("unknown VPC {vpc:?}")))?;
        v.acls.insert(acl.to_string());
        self.acls.insert(
            acl.to_string(),
            Acl {
                vpc: vpc.to_string(),
                rules: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// `AclDeleted`: a list no tier uses.
    pub(super) fn apply_acl_deleted(&mut self, acl: &str, vpc: &str) -> Result<(), IpamError> {
        self.own_acl(acl, vpc).map_err(|e| bad(e.to_string()))?;
        if let Some(t) = self.tiers_of_acl(acl).next() {
            return Err(bad(format!(
                "ACL list {acl:?} deleted while tier {t:?} uses it"
            )));
        }
        self.acls.remove(acl);
        self.vpcs.get_mut(vpc).expect("checked").acls.remove(acl);
        Ok(())
    }

    /// `AclRuleAdded`: a rule under a number the list does not hold yet.
    pub(super) fn apply_acl_rule_added(
        &mut self,
        acl: &str,
        vpc: &str,
        rule: &AclRule,
    ) -> Result<(), IpamError> {
        self.own_acl(acl, vpc).map_err(|e| bad(e.to_string()))?;
        let a = self.acls.get_mut(acl).expect("checked");
        if a.rules.contains_key(&rule.number) {
            return Err(bad(format!("rule {} of {acl:?} added twice", rule.number)));
        }
        a.rules.insert(rule.number, rule.clone());
        Ok(())
    }

    /// `AclRuleDeleted`.
    pub(super) fn apply_acl_rule_deleted(
        &mut self,
        acl: &str,
        vpc: &str,
        number: &u32,
    ) -> Result<(), IpamError> {
        self.own_acl(acl, vpc).map_err(|e| bad(e.to_string()))?;
        let a = self.acls.get_mut(acl).expect("checked");
        if a.rules.remove(number).is_none() {
            return Err(bad(format!("unknown rule {number} of {acl:?} deleted")));
        }
        Ok(())
    }

    /// `TierAclSet`: a tier takes a built-in list or one of its VPC's.
    pub(super) fn apply_tier_acl_set(
        &mut self,
        tier: &str,
        vpc: &str,
        acl: &str,
    ) -> Result<(), IpamError> {
        self.check_acl_of(acl, vpc)
            .map_err(|e| bad(e.to_string()))?;
        let t = self
            .tiers
            .get_mut(tier)
            .filter(|t| t.vpc == vpc)
            .ok_or_else(|| bad(format!("unknown tier {tier:?} of VPC {vpc:?}")))?;
        t.acl = Some(acl.to_string());
        Ok(())
    }

    /// Every VPC's own list, by name.
    pub fn acl_views(&self) -> Vec<AclView> {
        self.acls
            .keys()
            .map(|a| self.acl_view(a).expect("a known list"))
            .collect()
    }

    /// A list with its rules (in number order) and the tiers using it. The
    /// built-in lists show their fixed rules and belong to no VPC (`*`).
    pub fn acl_view(&self, name: &str) -> Result<AclView, IpamError> {
        if let Some(rules) = acl::builtin_rules(name) {
            return Ok(AclView {
                acl: name.to_string(),
                vpc: "*".to_string(),
                rules,
                tiers: vec![],
            });
        }
        let a = self
            .acls
            .get(name)
            .ok_or_else(|| IpamError::UnknownAcl(format!("{name:?}")))?;
        Ok(AclView {
            acl: name.to_string(),
            vpc: a.vpc.clone(),
            rules: a.rules.values().cloned().collect(),
            tiers: self.tiers_of_acl(name).cloned().collect(),
        })
    }
}
