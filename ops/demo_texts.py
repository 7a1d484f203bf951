"""Generated solved problems: the demo data's experience pool and alarms (ops/demo.py), and
the distractors of the experience-pool search evaluation (tests/unit/test_experience_search.py)
and benchmarks (tests/bench/bench_experience_search.py, bench_suggest.py).

A real pool holds many solved problems that resemble each other: the same industries,
products, roles and kinds of difficulty. ``generate`` builds such entries deterministically
from templates × industries × products × roles × rivals, so they share vocabulary with the
labelled problems in experience_eval.json (客户, 报价, 回款, 系统, 医院, 竞争对手 …) without
restating any of them: each template is a situation that is not one of the labelled ones.
A generator (not a committed JSON file) keeps the data reviewable and lets the benchmark ask
for 100,000 entries from the same source.
"""

from __future__ import annotations

import random

# industry → (customers, products)
INDUSTRIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "manufacturing": (
        ("一家汽车零部件厂", "某家电制造企业", "一家注塑加工厂", "某电子组装厂", "一家机械厂"),
        ("激光切割机", "工业机器人", "MES系统", "数控车床", "视觉检测设备", "空压机"),
    ),
    "software": (
        ("某互联网公司", "一家游戏公司", "某SaaS创业公司", "一家软件外包公司"),
        ("CRM系统", "数据中台", "云服务器", "低代码平台", "API网关"),
    ),
    "medical": (
        ("某三甲医院", "一家民营口腔连锁", "某县人民医院", "一家体检中心"),
        ("CT设备", "口腔扫描仪", "检验试剂", "医疗信息系统", "监护仪"),
    ),
    "construction": (
        ("某建筑总包单位", "一家装饰工程公司", "某市政工程公司", "一家路桥公司"),
        ("塔吊", "混凝土外加剂", "幕墙型材", "工程管理软件", "防水材料"),
    ),
    "retail": (
        ("某连锁便利店", "一家服装品牌", "某区域商超", "一家母婴连锁店"),
        ("收银系统", "电子价签", "冷链设备", "会员营销系统", "自助结账机"),
    ),
    "logistics": (
        ("某第三方物流公司", "一家冷链运输企业", "某港口集团", "一家快运公司"),
        ("运输管理系统", "电动叉车", "智能分拣线", "车载GPS终端", "立体货架"),
    ),
    "education": (
        ("某职业院校", "一家K12培训机构", "某市教育局", "一所民办高中"),
        ("智慧黑板", "在线学习平台", "实训设备", "校园安防系统", "排课软件"),
    ),
    "finance": (
        ("某城商行", "一家保险公司", "某证券营业部", "一家消费金融公司"),
        ("反欺诈系统", "智能柜台", "呼叫中心系统", "数据灾备方案", "风控模型"),
    ),
    "energy": (
        ("某风电场", "一家燃气公司", "某光伏企业", "一家供热公司"),
        ("储能柜", "巡检无人机", "SCADA系统", "智能电表", "变压器"),
    ),
    "food": (
        ("一家乳制品企业", "某连锁餐饮品牌", "一家食品加工厂", "一家饮料厂"),
        ("包装生产线", "中央厨房设备", "冷库", "食品检测仪", "灌装机"),
    ),
    "government": (
        ("某区政务服务中心", "某市交通局", "某街道办事处", "某市水务局"),
        ("政务服务平台", "视频监控系统", "办公自动化系统", "应急指挥系统"),
    ),
    "agriculture": (
        ("某农业合作社", "一家养殖场", "某种业公司", "一家农垦集团"),
        ("环境控制系统", "饲喂设备", "温室大棚", "水肥一体化设备"),
    ),
}
ROLES = (
    "采购经理",
    "设备主管",
    "信息中心主任",
    "财务总监",
    "总经理",
    "项目经理",
    "车间主任",
    "使用部门负责人",
    "运营总监",
    "技术负责人",
)
RIVALS = ("一家本地厂商", "某外资品牌", "一家上市公司", "一家新成立的创业公司", "某老牌国企")
SYSTEMS = ("OA系统", "财务软件", "ERP", "门禁系统", "视频平台", "HR系统")
METRICS = ("响应速度", "精度", "能耗", "噪音", "稳定性", "寿命")
FAULTS = ("数据丢失", "频繁报警", "通讯中断", "识别错误", "温度异常", "死机")
CERTS = ("CE", "等保三级", "ISO 27001", "3C", "CMMI", "节能")
SEASONS = ("夏季高温", "梅雨季节", "冬季", "业务旺季")

# (stage, category, problem template, method template)
TEMPLATES: tuple[tuple[str, str, str, str], ...] = (
    (
        "quote",
        "price",
        "{cust}的{role}认为{product}的年度维护费占合同额比例过高，要求降到{pct}以内",
        "列出维护服务内容和响应时效，按服务等级提供基础版和高级版两档维护费",
    ),
    (
        "quote",
        "price",
        "{cust}希望{product}按{unit}分期租赁，而不是一次性购买",
        "与融资租赁公司合作推出租赁方案，测算租购两种方式的总成本供客户选择",
    ),
    (
        "negotiate",
        "price",
        "{cust}的{role}要求{product}的备件价格在合同中锁定{years}年",
        "对常用备件锁价，其余备件按年度价格表执行并设置涨幅上限",
    ),
    (
        "quote",
        "price",
        "{cust}询价{product}时只要一个总价，不愿意看明细配置",
        "给出总价的同时附一页纸配置亮点，约{role}当面解释关键配置的价值",
    ),
    (
        "negotiate",
        "price",
        "{cust}因为今年效益下滑，要求{product}的续费价格与去年持平",
        "保持单价不变但调整服务范围，或以多年续约换取价格稳定",
    ),
    (
        "quote",
        "competitor",
        "{rival}在{cust}推出了与我们{product}功能相近的产品，价格低{pct}",
        "梳理我们的差异化功能和已交付案例，安排客户与老用户交流使用体验",
    ),
    (
        "demo",
        "competitor",
        "{cust}的{role}参加了{rival}组织的技术交流会，对我们的{product}方案开始动摇",
        "尽快安排我方专家做针对性技术交流，把对方方案的风险点提前告知",
    ),
    (
        "needs",
        "competitor",
        "{rival}承诺为{cust}定制开发{product}的全部个性化需求",
        "评估定制需求的真实必要性，说明标准化产品的稳定性和升级优势",
    ),
    (
        "negotiate",
        "competitor",
        "{cust}的{product}项目里，{rival}派了总经理亲自跟进，我们层级不对等",
        "请我方高管出面拜访，建立对等的高层沟通渠道",
    ),
    (
        "needs",
        "technical",
        "{cust}要求{product}与现有的{system}进行数据对接，但对方厂商不配合",
        "通过客户出面协调第三方厂商，必要时采用数据库中间表方式对接",
    ),
    (
        "demo",
        "technical",
        "{cust}的{role}担心{product}上线后影响现有业务的正常运转",
        "制定分阶段切换计划和回退方案，选择业务低峰期上线",
    ),
    (
        "needs",
        "technical",
        "{cust}对{product}的{metric}指标提出了高于行业标准的要求",
        "组织技术澄清会，确认指标的实际业务需要，提供实测数据和可达范围",
    ),
    (
        "demo",
        "technical",
        "{cust}的{product}试运行期间出现{fault}，{role}对方案失去信心",
        "成立专项小组驻场排查，每天通报进展，问题解决后做一次成果汇报",
    ),
    (
        "needs",
        "technical",
        "{cust}要求{product}通过{cert}认证后才能进入采购名单",
        "梳理认证时间表并同步推进，先以合作伙伴已认证的产品参与",
    ),
    (
        "won",
        "technical",
        "{cust}的IT人员太少，担心{product}后期没人维护",
        "提供托管运维服务和远程监控，培养一名客户内部管理员",
    ),
    (
        "needs",
        "decision_chain",
        "{cust}的{product}项目由{role}牵头，但预算要报到上级单位审批",
        "协助准备预算申请材料和可行性说明，了解上级审批时间节点",
    ),
    (
        "quote",
        "decision_chain",
        "{cust}的{role}支持采购{product}，但总经理认为现在不是时候",
        "帮助{role}量化不采购的损失，做一份给总经理的简报",
    ),
    (
        "quote",
        "decision_chain",
        "{cust}的{product}采购需要公开招标，但招标时间一再推迟",
        "保持与招标代理的沟通，利用推迟期做更多技术交流和样板参观",
    ),
    (
        "negotiate",
        "decision_chain",
        "{cust}新来的{role}要重新评估所有在谈供应商，包括我们的{product}",
        "尽快拜访新任{role}，了解其评估标准，提供已有合作成果总结",
    ),
    (
        "payment",
        "payment",
        "{cust}的{product}货款已逾期{days}天，{role}说还在走内部审批",
        "请{role}告知审批卡在哪一环节，协助补齐材料，同时发书面催款函",
    ),
    (
        "negotiate",
        "payment",
        "{cust}要求{product}的尾款在质保期满后才支付",
        "协商将尾款比例降到5%以内，或以质保保函换取尾款提前支付",
    ),
    (
        "payment",
        "payment",
        "{cust}提出用{product}的后续订单抵扣之前的欠款",
        "欠款与新订单分开处理，新订单要求预付款，旧款约定还款计划",
    ),
    (
        "payment",
        "payment",
        "{cust}的付款流程需要{n}个部门会签，每次付款都要一个多月",
        "提前启动付款申请，梳理会签顺序，在每个节点指定联系人",
    ),
    (
        "payment",
        "payment",
        "{cust}因为{product}一处小瑕疵拒付全部进度款",
        "区分瑕疵影响范围，承诺整改时限，争取先支付无争议部分",
    ),
    (
        "won",
        "relationship",
        "{cust}的{role}刚上任，对我们的{product}和过往合作都不了解",
        "准备合作历程和成效汇报，安排我方对口领导拜访",
    ),
    (
        "won",
        "relationship",
        "{cust}的{role}抱怨我们的销售只在签单前殷勤，签完{product}就不见人",
        "建立签约后定期回访机制，由客户成功经理每月汇报使用情况",
    ),
    (
        "needs",
        "relationship",
        "{cust}的{role}更愿意和{rival}的人打交道，觉得他们更专业",
        "提升我方对接人的专业能力，带技术专家一同拜访，分享行业洞察",
    ),
    (
        "won",
        "service",
        "{cust}反映{product}的操作手册太简单，员工遇到问题无从查起",
        "补充常见问题手册和短视频教程，开通在线知识库",
    ),
    (
        "won",
        "service",
        "{cust}的{product}在{season}故障率明显上升",
        "在{season}前安排预防性巡检，提前更换易损件",
    ),
    (
        "won",
        "service",
        "{cust}要求{product}的维修响应时间缩短到{hours}小时以内",
        "在客户所在城市设立备件点，签订分级响应的服务协议",
    ),
    (
        "won",
        "service",
        "{cust}投诉{product}的上门安装拖了{days}天还没完成",
        "调配附近安装队伍优先处理，每天向客户报告进度并给予延期补偿",
    ),
    (
        "won",
        "service",
        "{cust}对{product}的升级费用不满，认为应该包含在服务费里",
        "说明升级内容和成本，对本次升级给予优惠，明确今后哪些升级免费",
    ),
    (
        "needs",
        "other",
        "{cust}要求我们在{days}天内完成{product}的方案书，时间非常紧",
        "复用同类项目方案框架，集中骨干加班，重点突出客户关注的问题",
    ),
    (
        "contact",
        "other",
        "{cust}要求{product}的供应商必须在本地有分公司",
        "与本地服务商签订合作协议，或设立办事处满足准入要求",
    ),
    (
        "needs",
        "other",
        "{cust}的{product}项目资料要求全部用英文提供",
        "安排专业翻译，术语表统一，关键文件请外籍顾问审核",
    ),
    (
        "contact",
        "other",
        "{cust}的{role}希望先看到三个{product}的同行业成功案例",
        "整理同行业案例并取得老客户同意，安排电话或现场交流",
    ),
    (
        "negotiate",
        "other",
        "{cust}在{product}合同中要求我们承担第三方软件的授权费用",
        "明确第三方授权的责任归属，单列报价或由客户直接采购",
    ),
    (
        "negotiate",
        "other",
        "{cust}希望{product}项目由我们垫资实施，验收后再付款",
        "评估垫资金额和客户信用，要求部分预付款或引入供应链金融",
    ),
    (
        "won",
        "other",
        "{cust}的{role}要求我们每周提交{product}项目的进度周报",
        "建立固定的周报模板，每周五发送并附下周计划",
    ),
    (
        "needs",
        "other",
        "{cust}的{product}需求与我们的标准版差异较大，实施成本难以估算",
        "先做付费的需求调研，调研后给出固定价格的实施报价",
    ),
)


def generate(count: int = 1800, first_id: int = 10_000, seed: int = 20240601) -> list[dict]:
    """``count`` distinct pool entries ``{"id", "stage", "category", "industry", "kind",
    "problem", "method"}`` with ids from ``first_id``; the same arguments give the same list."""
    rng = random.Random(seed)
    industries = sorted(INDUSTRIES)
    entries: list[dict] = []
    seen: set[str] = set()
    while len(entries) < count:
        stage, category, problem, method = rng.choice(TEMPLATES)
        industry = rng.choice(industries)
        customers, products = INDUSTRIES[industry]
        slots = {
            "cust": rng.choice(customers),
            "product": rng.choice(products),
            "role": rng.choice(ROLES),
            "rival": rng.choice(RIVALS),
            "system": rng.choice(SYSTEMS),
            "metric": rng.choice(METRICS),
            "fault": rng.choice(FAULTS),
            "cert": rng.choice(CERTS),
            "season": rng.choice(SEASONS),
            "unit": rng.choice(("月", "季度", "年")),
            "pct": f"{rng.randrange(5, 40)}%",
            "years": rng.randrange(2, 8),
            "days": rng.randrange(10, 200),
            "hours": rng.choice((2, 4, 8, 12, 24)),
            "n": rng.randrange(3, 9),
        }
        text = problem.format(**slots)
        if text in seen:
            continue
        seen.add(text)
        entries.append(
            {
                "id": first_id + len(entries),
                "stage": stage,
                "category": category,
                "industry": industry,
                "kind": "service" if category == "service" else "sales",
                "problem": text,
                "method": method.format(**slots),
            }
        )
    return entries
