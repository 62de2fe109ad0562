"""Synthetic corpus of 部门预算 documents with exact ground truth, for testing the parser at scale.

Each document is generated bottom-up from line items (a unit's salary items, a project's
economic parts), so every printed total is a true sum: parent code = Σ children, 合计 = 基本支出 +
项目支出, the same totals in every table, 三公 = Σ its parts. Optionally some printed amounts are
changed afterwards (``--inject-rate``); each change is recorded, so a validator can be scored.

Per document ``<name>.txt`` (the text format of tests/fixtures/*-budget.txt), ``<name>.pdf``
(rendered by render_budget_pdf.py in a style picked deterministically) and ``<name>.truth.json``.

    python scripts/make_corpus.py OUTDIR --departments N --years 2023 2024 [--seed S]
        [--inject-rate R] [--jobs J]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

D = Decimal
CENT = D("0.01")
ZERO = D("0.00")

# --- reference data: real 2023 government classification codes (政府收支分类科目) ------------

#: 支出功能分类科目: 类 (3 digits), 款 (5), 项 (7) with their official names.
FUNC: dict[str, str] = {
    "201": "一般公共服务支出",
    "20101": "人大事务",
    "2010101": "行政运行",
    "2010102": "一般行政管理事务",
    "2010104": "人大会议",
    "2010150": "事业运行",
    "20103": "政府办公厅（室）及相关机构事务",
    "2010301": "行政运行",
    "2010302": "一般行政管理事务",
    "2010308": "信访事务",
    "2010350": "事业运行",
    "2010399": "其他政府办公厅（室）及相关机构事务支出",
    "20104": "发展与改革事务",
    "2010401": "行政运行",
    "2010402": "一般行政管理事务",
    "2010404": "战略规划与实施",
    "2010408": "物价管理",
    "2010450": "事业运行",
    "2010499": "其他发展与改革事务支出",
    "20105": "统计信息事务",
    "2010501": "行政运行",
    "2010502": "一般行政管理事务",
    "2010505": "专项统计业务",
    "2010507": "专项普查活动",
    "2010508": "统计抽样调查",
    "2010550": "事业运行",
    "2010599": "其他统计信息事务支出",
    "20106": "财政事务",
    "2010601": "行政运行",
    "2010602": "一般行政管理事务",
    "2010604": "预算改革业务",
    "2010605": "财政国库业务",
    "2010607": "信息化建设",
    "2010608": "财政委托业务支出",
    "2010650": "事业运行",
    "2010699": "其他财政事务支出",
    "20108": "审计事务",
    "2010801": "行政运行",
    "2010802": "一般行政管理事务",
    "2010804": "审计业务",
    "2010805": "审计管理",
    "2010850": "事业运行",
    "2010899": "其他审计事务支出",
    "20113": "商贸事务",
    "2011301": "行政运行",
    "2011302": "一般行政管理事务",
    "2011304": "对外贸易管理",
    "2011307": "国内贸易管理",
    "2011308": "招商引资",
    "2011350": "事业运行",
    "2011399": "其他商贸事务支出",
    "20138": "市场监督管理事务",
    "2013801": "行政运行",
    "2013802": "一般行政管理事务",
    "2013804": "市场主体管理",
    "2013805": "市场秩序执法",
    "2013810": "质量基础",
    "2013812": "药品事务",
    "2013816": "食品安全监管",
    "2013850": "事业运行",
    "2013899": "其他市场监督管理事务",
    "20199": "其他一般公共服务支出",
    "2019999": "其他一般公共服务支出",
    "204": "公共安全支出",
    "20406": "司法",
    "2040601": "行政运行",
    "2040602": "一般行政管理事务",
    "2040604": "基层司法业务",
    "2040605": "普法宣传",
    "2040606": "律师管理",
    "2040607": "公共法律服务",
    "2040610": "社区矫正",
    "2040650": "事业运行",
    "2040699": "其他司法支出",
    "205": "教育支出",
    "20501": "教育管理事务",
    "2050101": "行政运行",
    "2050102": "一般行政管理事务",
    "2050199": "其他教育管理事务支出",
    "20502": "普通教育",
    "2050201": "学前教育",
    "2050202": "小学教育",
    "2050203": "初中教育",
    "2050204": "高中教育",
    "2050299": "其他普通教育支出",
    "20508": "进修及培训",
    "2050801": "教师进修",
    "2050803": "培训支出",
    "206": "科学技术支出",
    "20601": "科学技术管理事务",
    "2060101": "行政运行",
    "2060102": "一般行政管理事务",
    "2060199": "其他科学技术管理事务支出",
    "20604": "技术研究与开发",
    "2060401": "机构运行",
    "2060404": "科技成果转化与扩散",
    "2060499": "其他技术研究与开发支出",
    "20605": "科技条件与服务",
    "2060501": "机构运行",
    "2060503": "科技条件专项",
    "2060599": "其他科技条件与服务支出",
    "20607": "科学技术普及",
    "2060701": "机构运行",
    "2060702": "科普活动",
    "207": "文化旅游体育与传媒支出",
    "20701": "文化和旅游",
    "2070101": "行政运行",
    "2070102": "一般行政管理事务",
    "2070104": "图书馆",
    "2070108": "文化活动",
    "2070109": "群众文化",
    "2070111": "文化创作与保护",
    "2070112": "文化和旅游市场管理",
    "2070113": "旅游宣传",
    "2070199": "其他文化和旅游支出",
    "20702": "文物",
    "2070204": "文物保护",
    "2070205": "博物馆",
    "20703": "体育",
    "2070301": "行政运行",
    "2070302": "一般行政管理事务",
    "2070305": "体育竞赛",
    "2070306": "体育训练",
    "2070307": "体育场馆",
    "2070308": "群众体育",
    "2070399": "其他体育支出",
    "208": "社会保障和就业支出",
    "20801": "人力资源和社会保障管理事务",
    "2080101": "行政运行",
    "2080102": "一般行政管理事务",
    "2080105": "劳动保障监察",
    "2080106": "就业管理事务",
    "2080107": "社会保险业务管理事务",
    "2080109": "社会保险经办机构",
    "2080111": "公共就业服务和职业技能鉴定机构",
    "2080150": "事业运行",
    "2080199": "其他人力资源和社会保障管理事务支出",
    "20802": "民政管理事务",
    "2080201": "行政运行",
    "2080202": "一般行政管理事务",
    "2080206": "社会组织管理",
    "2080207": "行政区划和地名管理",
    "2080208": "基层政权建设和社区治理",
    "2080299": "其他民政管理事务支出",
    "20805": "行政事业单位养老支出",
    "2080501": "行政单位离退休",
    "2080502": "事业单位离退休",
    "2080505": "机关事业单位基本养老保险缴费支出",
    "2080506": "机关事业单位职业年金缴费支出",
    "2080599": "其他行政事业单位养老支出",
    "20808": "抚恤",
    "2080801": "死亡抚恤",
    "2080802": "伤残抚恤",
    "20810": "社会福利",
    "2081002": "老年福利",
    "2081004": "殡葬",
    "2081005": "社会福利事业单位",
    "2081006": "养老服务",
    "20828": "退役军人管理事务",
    "2082801": "行政运行",
    "2082802": "一般行政管理事务",
    "2082804": "拥军优属",
    "2082850": "事业运行",
    "210": "卫生健康支出",
    "21001": "卫生健康管理事务",
    "2100101": "行政运行",
    "2100102": "一般行政管理事务",
    "2100199": "其他卫生健康管理事务支出",
    "21004": "公共卫生",
    "2100401": "疾病预防控制机构",
    "2100402": "卫生监督机构",
    "2100403": "妇幼保健机构",
    "2100408": "基本公共卫生服务",
    "2100409": "重大公共卫生服务",
    "2100410": "突发公共卫生事件应急处置",
    "21007": "计划生育事务",
    "2100717": "计划生育服务",
    "2100799": "其他计划生育事务支出",
    "21011": "行政事业单位医疗",
    "2101101": "行政单位医疗",
    "2101102": "事业单位医疗",
    "2101103": "公务员医疗补助",
    "211": "节能环保支出",
    "21101": "环境保护管理事务",
    "2110101": "行政运行",
    "2110102": "一般行政管理事务",
    "2110104": "生态环境保护宣传",
    "2110105": "环境保护法规、规划及标准",
    "2110199": "其他环境保护管理事务支出",
    "21102": "环境监测与监察",
    "2110203": "建设项目环评审查与监督",
    "2110299": "其他环境监测与监察支出",
    "21103": "污染防治",
    "2110301": "大气",
    "2110302": "水体",
    "2110304": "固体废弃物与化学品",
    "212": "城乡社区支出",
    "21201": "城乡社区管理事务",
    "2120101": "行政运行",
    "2120102": "一般行政管理事务",
    "2120104": "城管执法",
    "2120106": "工程建设管理",
    "2120199": "其他城乡社区管理事务支出",
    "21205": "城乡社区环境卫生",
    "2120501": "城乡社区环境卫生",
    "213": "农林水支出",
    "21301": "农业农村",
    "2130101": "行政运行",
    "2130102": "一般行政管理事务",
    "2130104": "事业运行",
    "2130106": "科技转化与推广服务",
    "2130108": "病虫害控制",
    "2130109": "农产品质量安全",
    "2130199": "其他农业农村支出",
    "21303": "水利",
    "2130301": "行政运行",
    "2130302": "一般行政管理事务",
    "2130304": "水利行业业务管理",
    "2130306": "水利工程运行与维护",
    "2130311": "水资源节约管理与保护",
    "2130312": "水质监测",
    "2130399": "其他水利支出",
    "214": "交通运输支出",
    "21401": "公路水路运输",
    "2140101": "行政运行",
    "2140102": "一般行政管理事务",
    "2140104": "公路建设",
    "2140106": "公路养护",
    "2140112": "公路运输管理",
    "2140199": "其他公路水路运输支出",
    "215": "资源勘探工业信息等支出",
    "21505": "工业和信息产业监管",
    "2150501": "行政运行",
    "2150502": "一般行政管理事务",
    "2150510": "工业和信息产业支持",
    "2150599": "其他工业和信息产业监管支出",
    "21508": "支持中小企业发展和管理支出",
    "2150805": "中小企业发展专项",
    "2150899": "其他支持中小企业发展和管理支出",
    "220": "自然资源海洋气象等支出",
    "22001": "自然资源事务",
    "2200101": "行政运行",
    "2200102": "一般行政管理事务",
    "2200104": "自然资源规划及管理",
    "2200106": "自然资源利用与保护",
    "2200109": "自然资源调查与确权登记",
    "2200150": "事业运行",
    "2200199": "其他自然资源事务支出",
    "221": "住房保障支出",
    "22101": "保障性安居工程支出",
    "2210106": "公共租赁住房",
    "2210108": "老旧小区改造",
    "22102": "住房改革支出",
    "2210201": "住房公积金",
    "2210202": "提租补贴",
    "2210203": "购房补贴",
    "223": "国有资本经营预算支出",
    "22301": "解决历史遗留问题及改革成本支出",
    "2230101": "厂办大集体改革支出",
    "224": "灾害防治及应急管理支出",
    "22401": "应急管理事务",
    "2240101": "行政运行",
    "2240102": "一般行政管理事务",
    "2240104": "灾害风险防治",
    "2240106": "安全监管",
    "2240108": "应急救援",
    "2240109": "应急管理",
    "2240150": "事业运行",
    "2240199": "其他应急管理支出",
    "229": "其他支出",
    "22960": "彩票公益金安排的支出",
    "2296002": "用于社会福利的彩票公益金支出",
    "2296003": "用于体育事业的彩票公益金支出",
    "2296004": "用于教育事业的彩票公益金支出",
}

#: 部门预算支出经济分类科目: 类 (3 digits) and 款 (5).
ECON: dict[str, str] = {
    "301": "工资福利支出",
    "30101": "基本工资",
    "30102": "津贴补贴",
    "30103": "奖金",
    "30107": "绩效工资",
    "30108": "机关事业单位基本养老保险缴费",
    "30109": "职业年金缴费",
    "30110": "职工基本医疗保险缴费",
    "30111": "公务员医疗补助缴费",
    "30112": "其他社会保障缴费",
    "30113": "住房公积金",
    "30199": "其他工资福利支出",
    "302": "商品和服务支出",
    "30201": "办公费",
    "30202": "印刷费",
    "30203": "咨询费",
    "30204": "手续费",
    "30205": "水费",
    "30206": "电费",
    "30207": "邮电费",
    "30209": "物业管理费",
    "30211": "差旅费",
    "30212": "因公出国（境）费用",
    "30213": "维修（护）费",
    "30214": "租赁费",
    "30215": "会议费",
    "30216": "培训费",
    "30217": "公务接待费",
    "30218": "专用材料费",
    "30226": "劳务费",
    "30227": "委托业务费",
    "30228": "工会经费",
    "30229": "福利费",
    "30231": "公务用车运行维护费",
    "30239": "其他交通费用",
    "30299": "其他商品和服务支出",
    "303": "对个人和家庭的补助",
    "30302": "退休费",
    "30305": "生活补助",
    "30309": "奖励金",
    "30399": "其他对个人和家庭的补助",
    "310": "资本性支出",
    "31002": "办公设备购置",
    "31003": "专用设备购置",
    "31007": "信息网络及软件购置更新",
    "31013": "公务用车购置",
}

#: Category labels of the by-unit basic expenditure table (as the seed document prints them).
ECON_CATEGORY = {
    "301": "工资福利支出",
    "302": "商品和服务支出",
    "303": "对个人和家庭的补助",
    "310": "其他资本性等支出",
}

#: 收支总体情况表 expenditure lines: label and 类 code (23 国债还本付息 has no 类 here).
CLASS_LINES: list[tuple[str, str | None]] = [
    ("一般公共服务支出", "201"),
    ("外交支出", "202"),
    ("国防支出", "203"),
    ("公共安全支出", "204"),
    ("教育支出", "205"),
    ("科学技术支出", "206"),
    ("文化旅游体育与传媒支出", "207"),
    ("社会保障和就业支出", "208"),
    ("卫生健康支出", "210"),
    ("节能环保支出", "211"),
    ("城乡社区支出", "212"),
    ("农林水支出", "213"),
    ("交通运输支出", "214"),
    ("资源勘探工业信息等支出", "215"),
    ("商业服务业等支出", "216"),
    ("金融支出", "217"),
    ("援助其他地区支出", "219"),
    ("自然资源海洋气象等支出", "220"),
    ("住房保障支出", "221"),
    ("粮油物资储备支出", "222"),
    ("国有资本经营预算支出", "223"),
    ("灾害防治及应急管理支出", "224"),
    ("国债还本付息支出", None),
    ("其他支出", "229"),
    ("转移性支出", "230"),
]

#: Funding sources (keys) in the column order of 收入总体情况表.
SOURCES = ("gp", "gf", "gc", "zh_edu", "zh_other", "sy", "jy", "qt", "sj", "fs", "jj")
FISCAL = ("gp", "gf", "gc")
SPECIAL = ("zh_edu", "zh_other")
OTHER = ("sy", "jy", "qt")

CITIES: list[tuple[str, str]] = [
    ("广州市", "gz"),
    ("深圳市", "sz"),
    ("佛山市", "fs"),
    ("东莞市", "dg"),
    ("珠海市", "zh"),
    ("中山市", "zs"),
    ("惠州市", "hz"),
    ("江门市", "jm"),
    ("汕头市", "st"),
    ("湛江市", "zj"),
    ("肇庆市", "zq"),
    ("韶关市", "sg"),
]


@dataclass(frozen=True)
class DeptType:
    """A kind of city department: its name, classification codes and typical units/projects."""

    core: str  # name after the city, e.g. 统计局
    key: str  # org-key suffix, e.g. tjj
    domain: str  # subject word used in prose and project names
    run: str  # 行政运行 code of the department itself
    general: str  # 一般行政管理事务
    other: str  # 其他…支出 of the same 款
    project_codes: tuple[str, ...]
    subs: tuple[tuple[str, str], ...]  # subordinate unit name pattern ({c} = city), run code
    divisions: tuple[str, ...]
    projects: tuple[str, ...]  # type-specific project names ({c} city, {y} year)
    gov_fund: str | None = None  # 政府性基金 (lottery) code for some projects


DEPT_TYPES: tuple[DeptType, ...] = (
    DeptType(
        "政务服务数据管理局",
        "zwfwsjglj",
        "政务服务",
        "2010301",
        "2010302",
        "2010399",
        ("2060503", "2019999"),
        (
            ("{c}政务服务中心", "2010350"),
            ("{c}数字政府运营中心", "2010350"),
            ("{c}市长专线电话受理中心", "2010350"),
        ),
        ("政务数据和安全管理处", "信息化项目管理处", "审批协调处", "政务服务监督管理处"),
        (
            "{c}政务服务热线服务外包项目",
            "“一网通办”信息化建设项目",
            "政务云服务项目",
            "数字政府安全运营服务项目",
        ),
    ),
    DeptType(
        "发展和改革委员会",
        "fgw",
        "发展改革",
        "2010401",
        "2010402",
        "2010499",
        ("2010404", "2010408"),
        (("{c}价格监测中心", "2010450"), ("{c}发展改革研究中心", "2010450")),
        ("发展规划处", "国民经济综合处", "体制改革处", "固定资产投资处", "价格管理处"),
        ("国民经济和社会发展规划编制经费", "重大项目前期工作经费", "价格监测工作经费"),
    ),
    DeptType(
        "统计局",
        "tjj",
        "统计",
        "2010501",
        "2010502",
        "2010599",
        ("2010505", "2010507", "2010508"),
        (("{c}统计数据管理中心", "2010550"), ("{c}社情民意研究中心", "2010550")),
        ("综合处", "国民经济核算处", "工业交通统计处", "人口和社会科技统计处"),
        (
            "第五次全国经济普查经费",
            "人口变动情况抽样调查经费",
            "统计数据采集处理工作经费",
            "统计执法检查专项经费",
        ),
    ),
    DeptType(
        "财政局",
        "czj",
        "财政",
        "2010601",
        "2010602",
        "2010699",
        ("2010604", "2010605", "2010607", "2010608"),
        (("{c}财政国库支付中心", "2010650"), ("{c}财政投资评审中心", "2010650")),
        ("预算处", "国库处", "政府采购监督管理处", "绩效管理处", "行政政法处"),
        ("预算管理一体化系统建设项目", "财政绩效评价委托业务经费", "政府采购监管工作经费"),
    ),
    DeptType(
        "审计局",
        "sjj",
        "审计",
        "2010801",
        "2010802",
        "2010899",
        ("2010804", "2010805"),
        (("{c}审计信息中心", "2010850"),),
        ("法规审理处", "财政审计处", "经济责任审计处", "固定资产投资审计处"),
        ("审计业务委托经费", "经济责任审计专项经费", "审计信息化建设项目"),
    ),
    DeptType(
        "商务局",
        "swj",
        "商务",
        "2011301",
        "2011302",
        "2011399",
        ("2011304", "2011307", "2011308"),
        (("{c}商务发展中心", "2011350"), ("{c}投资促进中心", "2011350")),
        ("对外贸易处", "利用外资处", "市场体系建设处", "电子商务处"),
        ("招商引资推介活动经费", "外贸运行监测工作经费", "消费促进活动经费"),
    ),
    DeptType(
        "市场监督管理局",
        "scjgj",
        "市场监管",
        "2013801",
        "2013802",
        "2013899",
        ("2013804", "2013805", "2013810", "2013812", "2013816"),
        (
            ("{c}市场监管技术保障中心", "2013850"),
            ("{c}食品检验所", "2013850"),
            ("{c}计量检测技术研究院", "2013850"),
        ),
        ("登记注册处", "价格监督检查处", "食品安全协调处", "特种设备安全监察处"),
        ("食品安全抽检监测经费", "市场主体登记注册系统运维项目", "特种设备安全监察经费"),
    ),
    DeptType(
        "司法局",
        "sfj",
        "司法行政",
        "2040601",
        "2040602",
        "2040699",
        ("2040604", "2040605", "2040606", "2040607", "2040610"),
        (("{c}公共法律服务中心", "2040650"), ("{c}社区矫正管理中心", "2040650")),
        ("立法一处", "行政复议处", "普法与依法治理处", "律师工作处", "社区矫正管理处"),
        ("法律援助专项经费", "普法宣传教育经费", "人民调解工作经费", "社区矫正专项经费"),
    ),
    DeptType(
        "教育局",
        "jyj",
        "教育",
        "2050101",
        "2050102",
        "2050199",
        ("2050201", "2050202", "2050203", "2050204", "2050803"),
        (
            ("{c}第一中学", "2050204"),
            ("{c}实验中学", "2050204"),
            ("{c}第二幼儿园", "2050201"),
            ("{c}教育研究院", "2050199"),
        ),
        ("基础教育处", "学前教育处", "职业教育处", "督导室", "教师工作处"),
        ("中小学教师培训经费", "学前教育发展专项", "义务教育均衡发展专项", "校园安全专项经费"),
        "2296004",
    ),
    DeptType(
        "科学技术局",
        "kjj",
        "科技",
        "2060101",
        "2060102",
        "2060199",
        ("2060404", "2060503", "2060702"),
        (
            ("{c}科技信息研究所", "2060501"),
            ("{c}生产力促进中心", "2060401"),
            ("{c}科技馆", "2060701"),
        ),
        ("政策法规处", "高新技术发展及产业化处", "农村与社会发展科技处", "科技合作处"),
        ("科技成果转化专项经费", "科技创新券补助经费", "科普活动周经费", "重点实验室建设经费"),
    ),
    DeptType(
        "文化广电旅游局",
        "whgdlyj",
        "文化和旅游",
        "2070101",
        "2070102",
        "2070199",
        ("2070108", "2070111", "2070112", "2070113", "2070204"),
        (("{c}图书馆", "2070104"), ("{c}文化馆", "2070109"), ("{c}博物馆", "2070205")),
        ("艺术处", "公共服务处", "文物保护与考古处", "市场管理处", "宣传推广处"),
        ("公共文化活动经费", "文化遗产保护专项经费", "旅游宣传推广经费", "文化市场执法经费"),
    ),
    DeptType(
        "体育局",
        "tyj",
        "体育",
        "2070301",
        "2070302",
        "2070399",
        ("2070305", "2070306", "2070308"),
        (("{c}体育训练中心", "2070306"), ("{c}体育场馆管理中心", "2070307")),
        ("群众体育处", "竞技体育处", "青少年体育处", "体育产业处"),
        ("全民健身活动经费", "竞技体育训练经费", "体育赛事组织经费"),
        "2296003",
    ),
    DeptType(
        "人力资源和社会保障局",
        "rsj",
        "人力资源社会保障",
        "2080101",
        "2080102",
        "2080199",
        ("2080105", "2080106", "2080107"),
        (
            ("{c}社会保险基金管理中心", "2080109"),
            ("{c}公共就业服务中心", "2080111"),
            ("{c}劳动人事争议仲裁院", "2080150"),
        ),
        ("就业促进处", "职业能力建设处", "劳动关系处", "养老保险处", "工伤保险处"),
        ("就业创业服务经费", "劳动保障监察执法经费", "社会保险经办服务经费"),
    ),
    DeptType(
        "民政局",
        "mzj",
        "民政",
        "2080201",
        "2080202",
        "2080299",
        ("2080206", "2080207", "2080208", "2081002", "2081006"),
        (("{c}社会福利院", "2081005"), ("{c}殡葬服务中心", "2081004")),
        ("社会组织管理处", "养老服务处", "社会救助处", "区划地名处", "慈善事业促进处"),
        ("居家养老服务补贴经费", "社区治理创新专项经费", "地名普查成果转化经费"),
        "2296002",
    ),
    DeptType(
        "退役军人事务局",
        "tyjrswj",
        "退役军人事务",
        "2082801",
        "2082802",
        "2082850",
        ("2082804", "2080801", "2080802"),
        (("{c}退役军人服务中心", "2082850"),),
        ("移交安置处", "就业创业处", "拥军优抚处", "思想政治和权益维护处"),
        ("拥军优属慰问经费", "退役军人就业创业培训经费", "烈士纪念设施维护经费"),
    ),
    DeptType(
        "卫生健康委员会",
        "wjw",
        "卫生健康",
        "2100101",
        "2100102",
        "2100199",
        ("2100408", "2100409", "2100410", "2100717"),
        (
            ("{c}疾病预防控制中心", "2100401"),
            ("{c}卫生监督所", "2100402"),
            ("{c}妇幼保健院", "2100403"),
        ),
        ("医政医管处", "疾病预防控制处", "基层卫生健康处", "妇幼健康处", "人口监测与家庭发展处"),
        ("基本公共卫生服务项目", "重大传染病防控经费", "突发公共卫生事件应急储备经费"),
    ),
    DeptType(
        "生态环境局",
        "sthjj",
        "生态环境",
        "2110101",
        "2110102",
        "2110199",
        ("2110104", "2110105", "2110203", "2110301", "2110302", "2110304"),
        (("{c}环境监测中心站", "2110199"), ("{c}环境科学研究院", "2110199")),
        ("大气环境处", "水生态环境处", "土壤生态环境处", "环境影响评价与排放管理处"),
        ("大气污染防治专项经费", "水环境质量监测经费", "固体废物污染防治经费"),
    ),
    DeptType(
        "城市管理和综合执法局",
        "cgj",
        "城市管理",
        "2120101",
        "2120102",
        "2120199",
        ("2120104", "2120501"),
        (("{c}环境卫生事务中心", "2120501"), ("{c}城市管理监督指挥中心", "2120199")),
        ("市容景观处", "环境卫生处", "执法监督处", "燃气管理处"),
        ("城市管理综合执法经费", "环境卫生作业经费", "数字城管平台运维项目"),
    ),
    DeptType(
        "农业农村局",
        "nyncj",
        "农业农村",
        "2130101",
        "2130102",
        "2130199",
        ("2130106", "2130108", "2130109"),
        (("{c}农业技术推广中心", "2130104"), ("{c}动物疫病预防控制中心", "2130104")),
        ("乡村产业发展处", "种植业管理处", "畜牧兽医处", "农田建设管理处"),
        ("农产品质量安全监测经费", "重大动植物疫病防控经费", "农业技术推广服务经费"),
    ),
    DeptType(
        "水务局",
        "swuj",
        "水务",
        "2130301",
        "2130302",
        "2130399",
        ("2130304", "2130306", "2130311", "2130312"),
        (("{c}河湖监测中心", "2130312"), ("{c}水务工程管理中心", "2130306")),
        ("水资源处", "河湖管理处", "排水管理处", "水旱灾害防御处"),
        ("河湖长制工作经费", "水利工程运行维护经费", "水资源管理与保护经费"),
    ),
    DeptType(
        "交通运输局",
        "jtysj",
        "交通运输",
        "2140101",
        "2140102",
        "2140199",
        ("2140104", "2140106", "2140112"),
        (("{c}公路事务中心", "2140106"), ("{c}交通运输研究中心", "2140199")),
        ("综合规划处", "公路管理处", "道路运输管理处", "安全监督处"),
        ("公路养护专项经费", "道路运输市场监管经费", "交通运行监测平台运维项目"),
    ),
    DeptType(
        "工业和信息化局",
        "gxj",
        "工业和信息化",
        "2150501",
        "2150502",
        "2150599",
        ("2150510", "2150805"),
        (("{c}中小企业服务中心", "2150899"),),
        ("产业发展处", "技术改造处", "中小企业处", "信息化推进处"),
        ("工业和信息化产业发展专项", "中小企业公共服务平台运营经费", "产业运行监测经费"),
    ),
    DeptType(
        "规划和自然资源局",
        "ghzyj",
        "规划和自然资源",
        "2200101",
        "2200102",
        "2200199",
        ("2200104", "2200106", "2200109"),
        (("{c}不动产登记中心", "2200150"), ("{c}城市规划勘测设计研究院", "2200150")),
        ("国土空间规划处", "自然资源调查监测处", "耕地保护监督处", "不动产登记处"),
        ("国土空间规划编制经费", "自然资源调查监测经费", "不动产登记信息系统运维项目"),
    ),
    DeptType(
        "住房和城乡建设局",
        "zjj",
        "住房和城乡建设",
        "2120101",
        "2120102",
        "2120199",
        ("2120106", "2210106", "2210108"),
        (("{c}建设工程质量安全监督站", "2120199"),),
        ("住房保障处", "建筑市场管理处", "工程质量安全监管处", "城市更新处"),
        ("老旧小区改造专项经费", "公共租赁住房运营经费", "建设工程质量监督经费"),
    ),
    DeptType(
        "应急管理局",
        "yjglj",
        "应急管理",
        "2240101",
        "2240102",
        "2240199",
        ("2240104", "2240106", "2240108", "2240109"),
        (("{c}应急管理综合服务中心", "2240150"),),
        ("风险监测和综合减灾处", "危险化学品安全监督管理处", "工贸行业安全监督管理处"),
        ("安全生产执法检查经费", "应急救援队伍建设经费", "自然灾害风险普查经费"),
    ),
)

GENERIC_DIVISIONS = ("办公室", "政策法规处", "规划财务处", "人事处")

#: Generic projects: name pattern and the kind that decides its economic parts.
GENERIC_PROJECTS: tuple[tuple[str, str], ...] = (
    ("{y}年{d}信息化运维项目", "it"),
    ("{c}{d}信息系统升级改造项目", "it"),
    ("{d}专项业务工作经费", "service"),
    ("业务用房物业管理费", "property"),
    ("购置经费", "purchase"),
    ("其他运行经费", "running"),
    ("机构运行辅助经费", "labour"),
    ("{d}宣传工作经费", "publicity"),
    ("{d}业务培训经费", "training"),
    ("办公业务用房租赁经费", "rent"),
    ("{d}交流合作经费", "exchange"),
)

#: Economic parts by project kind: (code, share weight).
PROJECT_ECON: dict[str, tuple[tuple[str, int], ...]] = {
    "it": (("31007", 6), ("30213", 2), ("30227", 3)),
    "service": (("30227", 6), ("30211", 1), ("30215", 1), ("30218", 1), ("30203", 1)),
    "property": (("30209", 1),),
    "purchase": (("31002", 3), ("31003", 1)),
    "running": (("30201", 2), ("30205", 1), ("30206", 2), ("30207", 1), ("30299", 1)),
    "labour": (("30226", 1),),
    "publicity": (("30202", 2), ("30227", 3)),
    "training": (("30216", 3), ("30211", 1)),
    "rent": (("30214", 1),),
    "exchange": (("30212", 2), ("30217", 1), ("30211", 1)),
    "subsidy": (("30305", 3), ("30399", 1)),
    "vehicle": (("31013", 1),),
}

#: Typical size (万元) of a project by kind; small for the sensitive 三公 kinds.
PROJECT_SIZE: dict[str, tuple[float, float]] = {
    "it": (30, 900),
    "service": (10, 800),
    "property": (20, 500),
    "purchase": (2, 120),
    "running": (10, 400),
    "labour": (20, 600),
    "publicity": (5, 150),
    "training": (3, 80),
    "rent": (30, 900),
    "exchange": (3, 40),
    "subsidy": (50, 1500),
    "vehicle": (15, 40),
}

GOAL_OPENERS = (
    "通过开展{p}，",
    "为保障{u}{d}工作正常开展，",
    "围绕全市{d}重点任务，",
    "按照年度工作计划，",
)
GOAL_CLAUSES = (
    "完善{d}工作机制和管理制度",
    "提升{d}信息化水平和服务效能",
    "保障业务系统安全、稳定、可靠运行",
    "按时完成年度{d}工作任务",
    "提高办事群众和企业的满意度",
    "加强资金使用管理，确保专款专用",
    "推动{d}数据共享和业务协同",
    "项目验收合格率达到100%",
    "服务对象满意度不低于90%",
    "全年开展专项检查不少于{n}次",
    "培训人员不少于{n}人次",
    "及时响应各单位的业务需求，快速处理故障问题",
    "做好日常运行维护和应急保障工作",
    "形成可复制、可推广的工作经验",
    "强化全过程预算绩效管理，提高财政资金使用效益",
)
GOAL_CLOSERS = (
    "为全市{d}高质量发展提供有力保障。",
    "进一步提升{d}治理能力和治理水平。",
    "确保各项工作顺利完成。",
)

DUTIES = (
    "贯彻执行国家、省有关{d}工作的方针政策和法律法规，起草全市{d}工作的地方性法规、"
    "规章草案和政策措施，并组织实施。",
    "负责拟订全市{d}发展规划和年度计划，并监督实施。",
    "负责全市{d}领域的统筹协调和监督管理工作。",
    "负责{d}相关专项资金的管理和使用，参与拟订相关政策。",
    "负责全市{d}信息化建设和数据统计分析工作。",
    "负责{d}领域的标准化建设和相关标准规范的制定工作。",
    "指导各区{d}工作，协调解决{d}工作中的重大问题。",
    "负责{d}领域的对外交流与合作。",
)
LAST_DUTY = "完成市委、市政府和上级相关部门交办的其他任务。"

GLOSSARY = (
    "一、**财政拨款收入**：指预算单位从本级财政部门取得的财政预算资金收入。",
    "二、**事业收入**：指事业单位开展专业业务活动及辅助活动所取得的收入。",
    "三、**经营收入**：指事业单位在专业业务活动及其辅助活动之外开展非独立核算经营活动取得的收入。",
    "四、**其他收入**：指除上述“财政拨款收入”、“事业收入”、“经营收入”等以外的收入。"
    "主要是非本级财政拨款、存款利息收入、事业单位固定资产出租收入等。",
    "五、**用事业基金弥补收支差额**：指事业单位在用当年的“财政拨款收入”、“事业收入”、"
    "“经营收入”、“其他收入”不足以安排当年支出的情况下，使用以前年度积累的事业基金弥补本年度收支缺口的资金。",
    "六、**基本支出**：指为保障机构正常运转、完成日常工作任务而发生的人员支出和公用支出。",
    "七、**项目支出**：指在基本支出之外为完成特定行政任务和事业发展目标所发生的支出。",
    "八、**经营支出**：指事业单位在专业业务活动及其辅助活动之外开展非独立核算经营活动所发生的支出。",
    "九、行政经费（机关运行经费）：指用于维持行政（参公）单位机关运行的经费。具体包括：办公费、"
    "印刷费、水费、电费、邮电费、物业管理费、差旅费、因公出国（境）费用、维修（护）费、租赁费、"
    "会议费、培训费、公务接待费、专用材料费、公务用车运行维护费、其他交通费用、其他商品和服务支出等。",
)

TABLE_TITLES: tuple[str, ...] = (
    "收支总体情况表",
    "收入总体情况表",
    "支出总体情况表",
    "财政拨款收支总体情况表",
    "一般公共预算支出情况表（按功能分类科目）",
    "一般公共预算基本支出情况表（按经济分类科目）",
    "财政拨款安排的行政经费及“三公”经费预算表",
    "政府性基金预算支出情况表",
    "国有资本经营预算支出情况表",
    "一般公共预算项目支出情况表（按经济分类科目）",
    "部门预算基本支出预算表",
    "部门预算项目支出及其他支出预算表",
)
KEY_PROJECTS_TITLE = "重点项目预算绩效目标情况"

RULE_CYCLE = ("grid", "hrules", "none")
ORIENTATION_CYCLE = ("auto", "portrait", "landscape")
FONT_CYCLE = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)

CN_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1 → 一, 12 → 十二, 25 → 二十五 (enough for numbered budget lines)."""
    if n < 10:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")


def fmt(x: Decimal) -> str:
    return f"{x:.2f}"


def fmt_short(x: Decimal) -> str:
    """949.00 → 949 (the 重点项目 table prints whole amounts without decimals)."""
    return str(int(x)) if x == x.to_integral_value() else fmt(x)


def fmt_thousands(x: Decimal) -> str:
    return f"{x:,.2f}"


def money(rng: random.Random, lo: float, hi: float) -> Decimal:
    """A random amount in 万元 with two decimals (integers of cents: sums stay exact)."""
    return D(rng.randint(round(lo * 100), round(hi * 100))) / 100


def share(x: Decimal, p: str) -> Decimal:
    return (x * D(p)).quantize(CENT, rounding=ROUND_HALF_UP)


def split_amount(rng: random.Random, total: Decimal, weights: Sequence[int]) -> list[Decimal]:
    """Split ``total`` into parts proportional to jittered weights; parts sum exactly."""
    jw = [w * rng.uniform(0.6, 1.4) for w in weights]
    s = sum(jw)
    cents = int(total * 100)
    parts = [int(cents * w / s) for w in jw]
    parts[0] += cents - sum(parts)
    return [D(p) / 100 for p in parts]


# --- the budget model ----------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    name: str
    admin: bool  # 行政单位 (the department itself) vs 事业单位
    run: str  # function code of its running costs
    other_source: str | None  # 事业收入/其他收入/教育收费 funding part of its costs
    staff: int
    retirees: int


@dataclass
class Department:
    name: str
    key: str
    city: str
    city_key: str
    dtype: DeptType
    units: list[Unit]
    divisions: list[str]
    duties: list[str]


@dataclass
class BasicItem:
    unit: str
    econ: str
    func: str
    source: str
    amount: Decimal


@dataclass
class Project:
    unit: str
    name: str
    func: str
    source: str
    econ: dict[str, Decimal]
    goal: str

    @property
    def amount(self) -> Decimal:
        return sum(self.econ.values(), ZERO)


@dataclass
class Budget:
    dept: Department
    year: int
    basic: list[BasicItem]
    projects: list[Project]

    def total(self) -> Decimal:
        return sum((b.amount for b in self.basic), ZERO) + sum(
            (p.amount for p in self.projects), ZERO
        )

    def econ_sum(self, codes: Iterable[str], sources: Iterable[str] = ("gp",)) -> Decimal:
        codes, sources = set(codes), set(sources)
        out = sum((b.amount for b in self.basic if b.econ in codes and b.source in sources), ZERO)
        for p in self.projects:
            if p.source in sources:
                out += sum((v for k, v in p.econ.items() if k in codes), ZERO)
        return out


def department(index: int, seed: int) -> Department:
    """The index-th department: city-major over department types; structure fixed per seed."""
    dtype = DEPT_TYPES[index % len(DEPT_TYPES)]
    city, city_key = CITIES[(index // len(DEPT_TYPES)) % len(CITIES)]
    rnd = index // (len(DEPT_TYPES) * len(CITIES))
    key = f"{city_key}-{dtype.key}" + (f"{rnd + 1}" if rnd else "")
    name = city + dtype.core
    rng = random.Random(f"dept|{seed}|{key}")
    n_subs = rng.randint(0, len(dtype.subs))
    subs = sorted(rng.sample(range(len(dtype.subs)), n_subs))
    units = [Unit(name, True, dtype.run, None, rng.randint(40, 160), rng.randint(0, 40))]
    for k in subs:
        pattern, run = dtype.subs[k]
        other = None
        if dtype.key == "jyj" and run.startswith("20502"):
            other = "zh_edu"
        elif rng.random() < 0.35:
            other = rng.choice(("sy", "qt"))
        units.append(
            Unit(
                pattern.format(c=city), False, run, other, rng.randint(15, 120), rng.randint(0, 20)
            )
        )
    divisions = list(GENERIC_DIVISIONS) + rng.sample(
        list(dtype.divisions), rng.randint(2, len(dtype.divisions))
    )
    duties = [d.format(d=dtype.domain) for d in rng.sample(list(DUTIES), rng.randint(4, 7))]
    duties.append(LAST_DUTY)
    return Department(name, key, city, city_key, dtype, units, divisions, duties)


def _goal(rng: random.Random, project: str, unit: str, domain: str, long: bool) -> str:
    """A 绩效目标 paragraph; long ones (some several hundred characters) overflow a page."""
    rounds = 2 if long and rng.random() < 0.25 else 1
    clauses: list[str] = []
    for _ in range(rounds):
        n = rng.randint(5, len(GOAL_CLAUSES)) if long else rng.randint(1, 3)
        clauses += rng.sample(GOAL_CLAUSES, n)
    text = rng.choice(GOAL_OPENERS).format(p=project, u=unit, d=domain)
    text += "，".join(c.format(d=domain, n=rng.randint(2, 50)) for c in clauses) + "，"
    return text + rng.choice(GOAL_CLOSERS).format(d=domain)


def build_budget(dept: Department, year: int, seed: int) -> Budget:
    """All line items of one department-year; every table is an aggregation of these."""
    rng = random.Random(f"budget|{seed}|{dept.key}|{year}")
    growth = D(str(round(1 + 0.04 * (year - 2023) + rng.uniform(-0.03, 0.05), 4)))
    dt = dept.dtype
    basic: list[BasicItem] = []

    def add(unit: Unit, econ: str, func: str, amount: Decimal) -> None:
        if amount <= 0:
            return
        src = unit.other_source
        if src and econ.startswith(("301", "302")) and rng.random() < 0.7:
            own = share(amount, str(round(rng.uniform(0.15, 0.5), 2)))
            basic.append(BasicItem(unit.name, econ, func, src, own))
            amount -= own
        if amount > 0:
            basic.append(BasicItem(unit.name, econ, func, "gp", amount))

    for u in dept.units:
        h = u.staff
        g = float(growth)
        pay = {
            "30101": money(rng, 1.2 * h * g, 2.0 * h * g),
            "30102": money(rng, 2.5 * h * g, 5.0 * h * g),
            "30103": money(rng, 0.4 * h * g, 1.2 * h * g),
            "30107": money(rng, 0.8 * h * g, 2.5 * h * g),
        }
        base = sum(pay.values(), ZERO)
        housing = share(pay["30102"], str(round(rng.uniform(0.15, 0.35), 2)))
        add(u, "30101", u.run, pay["30101"])
        add(u, "30102", u.run, pay["30102"] - housing)
        add(u, "30102", "2210203", housing)
        add(u, "30103", u.run, pay["30103"])
        add(u, "30107", u.run, pay["30107"])
        add(u, "30108", "2080505", share(base, "0.16"))
        add(u, "30109", "2080506", share(base, "0.08"))
        add(u, "30110", "2101101" if u.admin else "2101102", share(base, "0.07"))
        if u.admin:
            add(u, "30111", "2101103", share(base, "0.015"))
        add(u, "30112", u.run, share(base, "0.005"))
        add(u, "30113", "2210201", share(base, "0.12"))
        if rng.random() < 0.6:
            add(u, "30199", u.run, money(rng, 0.02 * h, 0.3 * h))
        goods = {
            "30201": (0.1, 0.4),
            "30202": (0.01, 0.1),
            "30205": (0.01, 0.05),
            "30206": (0.1, 0.6),
            "30207": (0.05, 0.3),
            "30209": (0.1, 0.8),
            "30211": (0.05, 0.3),
            "30213": (0.02, 0.2),
            "30215": (0.01, 0.08),
            "30216": (0.02, 0.15),
            "30228": (0.1, 0.25),
            "30229": (0.2, 0.5),
            "30239": (0.3, 1.2),
            "30299": (0.02, 0.3),
        }
        for code, (lo, hi) in goods.items():
            if code in ("30201", "30228", "30229") or rng.random() < 0.7:
                add(u, code, u.run, money(rng, lo * h, hi * h))
        if u.admin or rng.random() < 0.3:
            add(u, "30217", u.run, money(rng, 0.5, 8))
        if u.admin and rng.random() < 0.8:
            add(u, "30231", u.run, money(rng, 3, 40))
        if u.retirees:
            add(
                u,
                "30302",
                "2080501" if u.admin else "2080502",
                money(rng, 6 * u.retirees, 12 * u.retirees),
            )
        if rng.random() < 0.5:
            add(u, "30305", u.run, money(rng, 0.01, 3))
        if rng.random() < 0.4:
            add(u, "30309", u.run, money(rng, 0.1, 5))
        if rng.random() < 0.6:
            add(u, "31002", u.run, money(rng, 0.5, 0.2 * h + 1))

    # projects: a stable core (same names every year) and yearly ones
    projects: list[Project] = []
    srng = random.Random(f"projects|{seed}|{dept.key}")
    for u in dept.units:
        n = srng.randint(3, 9) if u.admin else srng.randint(1, 4)
        pool: list[tuple[str, str]] = [(p, "service") for p in dt.projects] if u.admin else []
        pool += list(GENERIC_PROJECTS)
        picks = srng.sample(pool, min(n, len(pool)))
        if u.admin and dt.gov_fund and srng.random() < 0.7:
            picks.append((f"彩票公益金资助{dt.domain}项目", "subsidy-fund"))
        if u.admin and srng.random() < 0.3:
            picks.append(("公务用车更新购置经费", "vehicle"))
        for pattern, kind in picks:
            if rng.random() < 0.15:  # some projects pause for a year
                continue
            name = pattern.format(c=dept.city, d=dt.domain, y=year)
            if kind == "subsidy-fund":
                func, source, kind = dt.gov_fund or dt.other, "gf", "subsidy"
            else:
                choices = (*dt.project_codes, dt.general, dt.other) if u.admin else (u.run,)
                func, source = srng.choice(choices), "gp"
            lo, hi = PROJECT_SIZE.get(kind, (10, 600))
            if kind in ("it", "service") and rng.random() < 0.25:
                lo, hi = 300, 6000  # a few big programmes dominate every real budget
            total = money(rng, lo, hi)
            parts = PROJECT_ECON[kind]
            amounts = split_amount(rng, total, [w for _, w in parts])
            econ: dict[str, Decimal] = {}
            for (code, _), amt in zip(parts, amounts, strict=True):
                if amt > 0:
                    econ[code] = econ.get(code, ZERO) + amt
            goal = _goal(rng, name, u.name, dt.domain, long=rng.random() < 0.5)
            projects.append(Project(u.name, name, func, source, econ, goal))
    if not any(p.unit == dept.name for p in projects):  # every department has some project
        name = f"{dt.domain}专项业务工作经费"
        goal = _goal(rng, name, dept.name, dt.domain, long=False)
        fallback = {"30227": money(rng, 10, 300)}
        projects.append(Project(dept.name, name, dt.general, "gp", fallback, goal))
    return Budget(dept, year, basic, projects)


# --- tables --------------------------------------------------------------------------------


@dataclass
class Col:
    """What a column holds; amount columns name the item (and code) column they belong to."""

    kind: str  # code | item | amount | text
    item_col: int | None = None
    code_col: int | None = None
    side: str | None = None


@dataclass
class TRow:
    cells: list[str | Decimal]
    unit: str
    kinds: dict[int, str]  # item column -> row kind
    codes: dict[int, str | None] = field(default_factory=dict)


@dataclass
class TableData:
    no: int
    title: str
    header: list[list[str]]
    cols: list[Col]
    rows: list[TRow]
    notes: list[str]
    per_page: int


def _tree(leaves: Iterable[str]) -> list[str]:
    """Leaf codes plus their 类 and 款 parents, in printed (depth-first) order."""
    codes: set[str] = set()
    for c in leaves:
        codes.add(c)
        if len(c) >= 5:
            codes.add(c[:3])
        if len(c) >= 7:
            codes.add(c[:5])
    return sorted(codes)


def _rollup(leaf: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
    """Sum leaf amounts (per measure) into every parent code: parent = Σ children by design."""
    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for code, measures in leaf.items():
        for parent in {code, code[:3], code[:5]} if len(code) == 7 else {code, code[:3]}:
            for k, v in measures.items():
                out[parent][k] += v
    return out


def func_amounts(b: Budget) -> dict[str, dict[str, Decimal]]:
    """Per function leaf: amounts keyed 'source' and 'basic'/'project' and 'source:kind'."""
    leaf: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for it in b.basic:
        m = leaf[it.func]
        m[it.source] += it.amount
        m["basic"] += it.amount
        m[f"{it.source}:basic"] += it.amount
    for p in b.projects:
        m = leaf[p.func]
        m[p.source] += p.amount
        m["project"] += p.amount
        m[f"{p.source}:project"] += p.amount
    return _rollup(leaf)


def econ_amounts(b: Budget, kind: str, source: str = "gp") -> dict[str, dict[str, Decimal]]:
    leaf: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    if kind == "basic":
        for it in b.basic:
            if it.source == source:
                leaf[it.econ]["v"] += it.amount
    else:
        for p in b.projects:
            if p.source == source:
                for code, v in p.econ.items():
                    leaf[code]["v"] += v
    return _rollup(leaf)


def _coded_rows(
    dept: str,
    amounts: dict[str, dict[str, Decimal]],
    codes: list[str],
    keys: Sequence[str],
    total_label: str,
    names: dict[str, str],
    bracket: bool,
) -> list[TRow]:
    """合计 row then one row per code; ``bracket`` prints ``[201]name`` in a single column."""
    total = [sum((amounts[c].get(k, ZERO) for c in codes if len(c) == 3), ZERO) for k in keys]
    rows: list[TRow] = []
    if bracket:
        rows.append(TRow([total_label, *total], dept, {0: "total"}, {0: None}))
        for c in codes:
            vals = [amounts[c].get(k, ZERO) for k in keys]
            rows.append(TRow([f"[{c}]{names[c]}", *vals], dept, {0: "class"}, {0: c}))
    else:
        rows.append(TRow(["", total_label, *total], dept, {1: "total"}, {1: None}))
        for c in codes:
            vals = [amounts[c].get(k, ZERO) for k in keys]
            rows.append(TRow([c, names[c], *vals], dept, {1: "class"}, {1: c}))
    return rows


def _amount_cols(n_lead: int, n_amounts: int, item: int, code: int | None) -> list[Col]:
    lead = [Col("code") if code is not None and i == code else Col("item") for i in range(n_lead)]
    return lead + [Col("amount", item, code) for _ in range(n_amounts)]


def build_tables(b: Budget, rng: random.Random) -> list[TableData]:
    """The twelve standard tables of a 部门预算, all derived from the budget's line items."""
    dept = b.dept.name
    fa = func_amounts(b)
    funcs = _tree(c for c in fa if len(c) == 7)
    tables: list[TableData] = []

    def per_page(lo: int, hi: int) -> int:
        return rng.randint(lo, hi)

    def src(code: str, *keys: str) -> Decimal:
        return sum((fa[code].get(k, ZERO) for k in keys), ZERO)

    # 1 收支总体情况表
    cls_total = {c: src(c, *SOURCES) for c in {x[:3] for x in funcs}}
    income = [
        ("预算拨款", sum((src(c, *FISCAL) for c in cls_total), ZERO)),
        ("财政专户拨款", sum((src(c, *SPECIAL) for c in cls_total), ZERO)),
        ("其他资金", sum((src(c, *OTHER) for c in cls_total), ZERO)),
    ]
    t1 = _two_sided(
        dept,
        [(f"{cn_number(i + 1)}、{lab}", v) for i, (lab, v) in enumerate(income)],
        [
            (f"{cn_number(i + 1)}、{lab}", code, cls_total.get(code or "", ZERO))
            for i, (lab, code) in enumerate(CLASS_LINES)
        ],
        "本年收入合计",
        "本年支出合计",
        [
            ("四、上级补助收入", ZERO),
            ("五、附属单位上缴收入", ZERO),
            ("六、用事业基金弥补收支差额", ZERO),
        ],
        [
            ("二十六、对附属单位补助支出", ZERO),
            ("二十七、上缴上级支出", ZERO),
            ("二十八、结转下年", ZERO),
        ],
    )
    tables.append(
        TableData(
            1,
            TABLE_TITLES[0],
            _TWO_SIDED_HEADER,
            _TWO_SIDED_COLS,
            t1,
            [
                "注：财政拨款收支情况包括一般公共预算、政府性基金预算、国有资本经营预算拨款收支情况。",
                "本套报表金额单位转换时可能存在尾数误差。",
            ],
            per_page(11, 16),
        )
    )

    # 2 收入总体情况表
    header2 = [
        [
            "功能分类科目",
            "",
            "合计",
            "财政拨款收入",
            "",
            "",
            "财政专户拨款收入",
            "",
            "其他资金收入",
            "",
            "",
            "上级补助收入",
            "附属单位上缴收入",
            "用事业基金弥补收支差额",
        ],
        [
            "科目编码",
            "科目名称",
            "",
            "一般公共预算",
            "政府性基金预算",
            "国有资本经营预算",
            "教育收费",
            "其他专户收入拨款",
            "事业收入",
            "经营收入",
            "其他收入",
            "",
            "",
            "",
        ],
    ]
    amounts2 = {c: {"all": src(c, *SOURCES), **{s: src(c, s) for s in SOURCES}} for c in funcs}
    rows2 = _coded_rows(dept, amounts2, funcs, ("all", *SOURCES), "合计", FUNC, bracket=False)
    tables.append(
        TableData(
            2,
            TABLE_TITLES[1],
            header2,
            _amount_cols(2, 12, 1, 0),
            rows2,
            ["注：无。"],
            per_page(8, 14),
        )
    )

    # 3 支出总体情况表
    header3 = [
        [
            "功能分类科目",
            "",
            "合计",
            "基本支出",
            "项目支出",
            "事业单位经营支出",
            "对附属单位补助支出",
            "上缴上级支出",
            "结转下年",
        ],
        ["科目编码", "科目名称", "", "", "", "", "", "", ""],
    ]
    amounts3 = {
        c: {
            "all": src(c, "basic", "project"),
            "basic": src(c, "basic"),
            "project": src(c, "project"),
        }
        for c in funcs
    }
    keys3 = ("all", "basic", "project", "jy-out", "sub-out", "up-out", "carry")
    rows3 = _coded_rows(dept, amounts3, funcs, keys3, "合计", FUNC, bracket=False)
    tables.append(
        TableData(
            3,
            TABLE_TITLES[2],
            header3,
            _amount_cols(2, 7, 1, 0),
            rows3,
            ["注：无。"],
            per_page(9, 14),
        )
    )

    # 4 财政拨款收支总体情况表
    fis_cls = {c: src(c, *FISCAL) for c in cls_total}
    t4 = _two_sided(
        dept,
        [
            ("一、一般公共预算", sum((src(c, "gp") for c in cls_total), ZERO)),
            ("二、政府性基金预算", sum((src(c, "gf") for c in cls_total), ZERO)),
            ("三、国有资本经营预算", sum((src(c, "gc") for c in cls_total), ZERO)),
        ],
        [
            (f"{cn_number(i + 1)}、{lab}", code, fis_cls.get(code or "", ZERO))
            for i, (lab, code) in enumerate(CLASS_LINES[:24])
        ],
        "本年收入合计",
        "本年支出合计",
        [],
        [("二十五、结转下年", ZERO)],
    )
    tables.append(
        TableData(
            4,
            TABLE_TITLES[3],
            _TWO_SIDED_HEADER,
            _TWO_SIDED_COLS,
            t4,
            ["注：表中功能分类科目，根据部门实际预算编制情况编列。"],
            per_page(12, 16),
        )
    )

    # 5 一般公共预算支出情况表（按功能分类科目）
    gp_codes = [c for c in funcs if src(c, "gp") != 0]
    amounts5 = {
        c: {"all": src(c, "gp"), "b": src(c, "gp:basic"), "p": src(c, "gp:project")}
        for c in gp_codes
    }
    header5 = [
        ["功能科目名称", "一般公共预算支出", "", ""],
        ["", "小计", "其中：基本支出", "项目支出"],
    ]
    rows5 = _coded_rows(dept, amounts5, gp_codes, ("all", "b", "p"), "合 计", FUNC, bracket=True)
    tables.append(
        TableData(
            5,
            TABLE_TITLES[4],
            header5,
            _amount_cols(1, 3, 0, None),
            rows5,
            ["注：无。"],
            per_page(12, 18),
        )
    )

    # 6 / 10 一般公共预算基本/项目支出情况表（按经济分类科目）
    for no, kind in ((6, "basic"), (10, "project")):
        ea = econ_amounts(b, kind)
        codes = _tree(c for c in ea if len(c) == 5)
        rows = _coded_rows(dept, ea, codes, ("v",), "合 计", ECON, bracket=True)
        tables.append(
            TableData(
                no,
                TABLE_TITLES[no - 1],
                [["部门预算支出经济科目", "预算"]],
                _amount_cols(1, 1, 0, None),
                rows,
                ["注：无。"],
                per_page(12, 18),
            )
        )

    # 7 三公
    def three(codes: Sequence[str]) -> list[Decimal]:
        vals = [b.econ_sum(codes, (s,)) for s in FISCAL]
        return [sum(vals, ZERO), *vals]

    admin_units = {u.name for u in b.dept.units if u.admin}
    admin_exp = [
        sum(
            (
                it.amount
                for it in b.basic
                if it.source == s and it.unit in admin_units and it.econ.startswith(("302", "310"))
            ),
            ZERO,
        )
        for s in FISCAL
    ]
    abroad, car_buy, car_run, recep = (three([c]) for c in ("30212", "31013", "30231", "30217"))
    car = [x + y for x, y in zip(car_buy, car_run, strict=True)]
    total3 = [a + c + r for a, c, r in zip(abroad, car, recep, strict=True)]
    rows7_spec: list[tuple[str, list[Decimal]]] = [
        ("行政经费", [sum(admin_exp, ZERO), *admin_exp]),
        ("“三公”经费", total3),
        ("其中：（一）因公出国（境）支出", abroad),
        ("（二）公务用车购置及运行维护支出", car),
        ("1. 公务用车购置", car_buy),
        ("2. 公务用车运行维护费", car_run),
        ("（三）公务接待费支出", recep),
    ]
    rows7 = [TRow([lab, *vals], dept, {0: "item"}, {0: None}) for lab, vals in rows7_spec]
    tables.append(
        TableData(
            7,
            TABLE_TITLES[6],
            [["项 目", "合计", "一般公共预算", "政府性基金预算", "国有资本经营预算"]],
            _amount_cols(1, 4, 0, None),
            rows7,
            ["注：无。"],
            12,
        )
    )

    # 8 / 9 政府性基金 / 国有资本经营预算支出情况表
    for no, source, label, placeholder in (
        (8, "gf", "政府性基金预算支出", ("229", "22960", "2296003", "2296004")),
        (9, "gc", "国有资本经营预算支出", ("223", "22301", "2230101")),
    ):
        codes = [c for c in funcs if src(c, source) != 0]
        empty = not codes
        if empty:
            codes = list(placeholder)
        amounts = {
            c: {
                "all": src(c, source),
                "b": src(c, f"{source}:basic"),
                "p": src(c, f"{source}:project"),
            }
            for c in codes
        }
        header = [
            ["功能分类科目", "", label, "", ""],
            ["科目编码", "科目名称", "小计", "其中：基本支出", "项目支出"],
        ]
        rows = _coded_rows(dept, amounts, codes, ("all", "b", "p"), "合 计", FUNC, bracket=False)
        tables.append(
            TableData(
                no,
                TABLE_TITLES[no - 1],
                header,
                _amount_cols(2, 3, 1, 0),
                rows,
                ["注：本表本年无发生额。" if empty else "注：无。"],
                per_page(12, 16),
            )
        )

    # 11 部门预算基本支出预算表
    by_unit_header = [
        ["支出项目类别(资金使用单位)", "总 计", "财政拨款", "", "", "", "财政专户拨款", "其他资金"],
        ["", "", "合计", "一般公共预算", "政府性基金预算", "国有资本经营预算", "", ""],
    ]

    def unit_cols(items: Iterable[tuple[str, Decimal]]) -> list[Decimal]:
        acc: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for s, v in items:
            acc[s] += v
        fiscal = [acc[s] for s in FISCAL]
        special = sum((acc[s] for s in SPECIAL), ZERO)
        other = sum((acc[s] for s in (*OTHER, "sj", "fs", "jj")), ZERO)
        return [sum(fiscal, ZERO) + special + other, sum(fiscal, ZERO), *fiscal, special, other]

    rows11 = [
        TRow(
            ["合 计", *unit_cols((it.source, it.amount) for it in b.basic)],
            dept,
            {0: "total"},
            {0: None},
        )
    ]
    for u in b.dept.units:
        items = [it for it in b.basic if it.unit == u.name]
        if not items:
            continue
        rows11.append(
            TRow(
                [u.name, *unit_cols((it.source, it.amount) for it in items)],
                u.name,
                {0: "unit"},
                {0: None},
            )
        )
        for cat, label in ECON_CATEGORY.items():
            sub = [(it.source, it.amount) for it in items if it.econ.startswith(cat)]
            if sub:
                rows11.append(TRow([label, *unit_cols(sub)], u.name, {0: "category"}, {0: None}))
    tables.append(
        TableData(
            11,
            TABLE_TITLES[10],
            by_unit_header,
            _amount_cols(1, 7, 0, None),
            rows11,
            ["注：无。"],
            per_page(10, 16),
        )
    )

    # 12 部门预算项目支出及其他支出预算表
    header12 = [by_unit_header[0] + ["绩效目标"], by_unit_header[1] + [""]]
    rows12 = [
        TRow(
            ["合 计", *unit_cols((p.source, p.amount) for p in b.projects), ""],
            dept,
            {0: "total"},
            {0: None},
        )
    ]
    for u in b.dept.units:
        ps = [p for p in b.projects if p.unit == u.name]
        if not ps:
            continue
        rows12.append(
            TRow(
                [u.name, *unit_cols((p.source, p.amount) for p in ps), ""],
                u.name,
                {0: "unit"},
                {0: None},
            )
        )
        for p in ps:
            rows12.append(
                TRow(
                    [p.name, *unit_cols([(p.source, p.amount)]), p.goal],
                    u.name,
                    {0: "project"},
                    {0: None},
                )
            )
    cols12 = [*_amount_cols(1, 7, 0, None), Col("text")]
    tables.append(
        TableData(12, TABLE_TITLES[11], header12, cols12, rows12, ["注：无。"], per_page(3, 10))
    )
    tables.sort(key=lambda t: t.no)
    return tables


_TWO_SIDED_HEADER = [["收 入", "", "支 出", ""], ["项 目", "预算", "项 目", "预算"]]
_TWO_SIDED_COLS = [
    Col("item", side="income"),
    Col("amount", 0, side="income"),
    Col("item", side="expenditure"),
    Col("amount", 2, side="expenditure"),
]


def _two_sided(
    dept: str,
    income: list[tuple[str, Decimal]],
    expenditure: list[tuple[str, str | None, Decimal]],
    income_total: str,
    exp_total: str,
    income_after: list[tuple[str, Decimal]],
    exp_after: list[tuple[str, Decimal]],
) -> list[TRow]:
    """收入 lines on the left, 支出 lines on the right, totals on a shared row, then 总计."""
    rows: list[TRow] = []
    for i, (lab, code, v) in enumerate(expenditure):
        left: list[str | Decimal] = [income[i][0], income[i][1]] if i < len(income) else ["", ""]
        kinds = {2: "item"} | ({0: "item"} if i < len(income) else {})
        rows.append(TRow([*left, lab, v], dept, kinds, {0: None, 2: code}))
    inc_sum = sum((v for _, v in income), ZERO)
    exp_sum = sum((v for _, _, v in expenditure), ZERO)
    rows.append(
        TRow(
            [income_total, inc_sum, exp_total, exp_sum],
            dept,
            {0: "total", 2: "total"},
            {0: None, 2: None},
        )
    )
    for i in range(max(len(income_after), len(exp_after))):
        left = list(income_after[i]) if i < len(income_after) else ["", ""]
        right = list(exp_after[i]) if i < len(exp_after) else ["", ""]
        kinds = ({0: "item"} if i < len(income_after) else {}) | (
            {2: "item"} if i < len(exp_after) else {}
        )
        rows.append(TRow([*left, *right], dept, kinds, {0: None, 2: None}))
    rows.append(
        TRow(
            [
                "收入总计",
                inc_sum + sum((v for _, v in income_after), ZERO),
                "支出总计",
                exp_sum + sum((v for _, v in exp_after), ZERO),
            ],
            dept,
            {0: "total", 2: "total"},
            {0: None, 2: None},
        )
    )
    return rows


# --- injection, truth and text ----------------------------------------------------------------


def _mutate(rng: random.Random, x: Decimal) -> Decimal:
    """A plausible typo: an amount off by a round delta, or two digits swapped."""
    for _ in range(20):
        if rng.random() < 0.4 and x >= 10:
            s = list(fmt(x).replace(".", ""))
            i = rng.randrange(len(s) - 1)
            s[i], s[i + 1] = s[i + 1], s[i]
            y = D("".join(s)) / 100
        else:
            delta = D(rng.choice(("0.01", "0.1", "1", "10", "100"))) * rng.randint(1, 9)
            y = x + delta if rng.random() < 0.5 or x < delta else x - delta
        y = y.quantize(CENT)
        if y != x and y >= 0:
            return y
    return x + D("1.00")


def _leaf_paths(header: list[list[str]]) -> list[list[str]]:
    """Printed column path per column (labels top-down, whitespace removed)."""
    rb = renderer()
    spans, owner = rb.header_spans(header)
    ncols = max(len(r) for r in header)
    paths: list[list[str]] = []
    for c in range(ncols):
        path: list[str] = []
        for r in range(len(header)):
            k = owner[r][c] if c < len(owner[r]) else None
            if k is not None and (not path or path[-1] != rb.squash(spans[k].text)):
                path.append(rb.squash(spans[k].text))
        paths.append(path)
    return paths


def _split_code(label: str) -> tuple[str | None, str]:
    if label.startswith("[") and "]" in label:
        code, name = label[1:].split("]", 1)
        return code, name
    return None, label


def _identity(t: TableData, row: TRow, c: int, paths: list[list[str]]) -> dict[str, Any]:
    """How a printed amount is named in truth files: the fields a reader's line must match.

    ``code`` is the code printed on the row ("" if none; the 收支总表 lines carry the 类 they
    stand for in ``class_code`` instead); ``item`` and ``measure`` are squashed, the measure
    being the column's header labels joined top-down, as tests/truth.py joins them.
    """
    col = t.cols[c]
    item_col = col.item_col if col.item_col is not None else 0
    printed_code, item = _split_code(str(row.cells[item_col]))
    implied = row.codes.get(item_col)
    out: dict[str, Any] = {
        "table_no": t.no,
        "table_title": t.title,
        "unit": row.unit,
        "code": printed_code or ("" if col.side else implied) or "",
        "item": renderer().squash(item),
        "measure": "".join(paths[c]),
    }
    if col.side and implied:
        out["class_code"] = implied
    return out


def inject(tables: list[TableData], rate: float, rng: random.Random) -> list[dict[str, Any]]:
    """Change printed amounts with probability ``rate`` each; return what was changed."""
    errors: list[dict[str, Any]] = []
    if rate <= 0:
        return errors
    for t in tables:
        paths = _leaf_paths(t.header)
        for row in t.rows:
            for c, col in enumerate(t.cols):
                val = row.cells[c]
                if col.kind != "amount" or not isinstance(val, Decimal) or rng.random() >= rate:
                    continue
                new = _mutate(rng, val)
                row.cells[c] = new
                errors.append(
                    {**_identity(t, row, c, paths), "original": fmt(val), "changed": fmt(new)}
                )
    return errors


def truth_lines(tables: list[TableData], errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One expected line per printed amount (as printed, injected changes included)."""
    changed = {(e["table_no"], e["unit"], e["item"], e["measure"], e["changed"]) for e in errors}
    out: list[dict[str, Any]] = []
    for t in tables:
        paths = _leaf_paths(t.header)
        for row in t.rows:
            for c, col in enumerate(t.cols):
                val = row.cells[c]
                if col.kind != "amount" or not isinstance(val, Decimal):
                    continue
                item_col = col.item_col if col.item_col is not None else 0
                line = _identity(t, row, c, paths)
                line["measure_path"] = paths[c]
                line["amount"] = fmt_short(val) if t.no == 13 else fmt(val)
                line["row_kind"] = row.kinds.get(item_col, "item")
                if col.side:
                    line["side"] = col.side
                if (t.no, row.unit, line["item"], line["measure"], fmt(val)) in changed:
                    line["injected"] = True
                out.append(line)
    return out


def _cell(x: str | Decimal) -> str:
    return fmt(x) if isinstance(x, Decimal) else x


def table_text(t: TableData, dept: str, label: str | None) -> str:
    """The table as the fixture prints it: one chunk per page, title block and header repeated."""
    out: list[str] = []
    if label:
        out.append(f"{label}\n")
    rows = t.rows
    chunks = [rows[i : i + t.per_page] for i in range(0, len(rows), t.per_page)] or [[]]
    for chunk in chunks:
        out.append(f"{t.title}\n\n单位名称：{dept}\n\n单位：万元\n")
        lines = ["\t".join(r) for r in t.header]
        lines += ["\t".join(_cell(x) for x in r.cells) for r in chunk]
        out.append("\n".join(lines) + "\n")
    out.extend(f"{n}\n" for n in t.notes)
    return "\n".join(out)


def _change(cur: Decimal, prev: Decimal) -> tuple[str, str, str]:
    """(增加|减少, |Δ| formatted, 增长x%|下降x%) against last year."""
    diff = cur - prev
    pct = (abs(diff) / prev * 100).quantize(D("0.1"), rounding=ROUND_HALF_UP) if prev else D(0)
    if diff >= 0:
        return "增加", fmt_thousands(diff), f"增长{pct}%"
    return "减少", fmt_thousands(-diff), f"下降{pct}%"


def document_text(
    b: Budget, prev: Budget, tables: list[TableData], key_table: TableData, rng: random.Random
) -> str:
    """The full budget text: cover, contents, 概况, the twelve tables, 情况说明, 名词解释."""
    d, y = b.dept, b.year
    part: list[str] = ["", "", f"{y} 年", f"{d.name} 部门预算", "", "目 录", ""]
    part += [f"第一部分 {d.name} 概况", ""]
    part += [f"- {x}" for x in ("一、主要职责", "二、部门机构设置", "三、部门预算构成")] + [""]
    part += [f"第二部分 {y} 年部门预算表", ""]
    part += [f"- {cn_number(i + 1)}、{t}" for i, t in enumerate(TABLE_TITLES)] + [""]
    part += [f"第三部分 {y} 年部门预算情况说明", "", "第四部分 名词解释", ""]
    part += [f"第一部分 {d.name}概况", "", "一、主要职责", ""]
    part += [f"({cn_number(i + 1)}) {duty}\n" for i, duty in enumerate(d.duties)]
    part += ["二、部门机构设置", ""]
    part += [
        f"{d.name}是负责全市{d.dtype.domain}工作的市人民政府工作部门，设 {len(d.divisions)} "
        f"个内设机构及机关党委，内设机构分别是{'、'.join(d.divisions)}。",
        "",
        "三、部门预算构成",
        "",
    ]
    subs = [u.name for u in d.units if not u.admin]
    if subs:
        part.append(
            "本部门预算为汇总预算，包括：本级预算，以及纳入编制范围的下属单位预算。"
            f"下属单位具体包括：{'、'.join(subs)}。"
        )
    else:
        part.append("本部门预算为本级预算，没有纳入编制范围的下属单位。")
    part += ["", f"第二部分 {y}年部门预算表", ""]
    text = "\n".join(part) + "\n"
    for t in tables:
        text += table_text(t, d.name, "表 1" if t.no == 1 else None) + "\n"

    total, ptotal = b.total(), prev.total()
    inc, dif, pct = _change(total, ptotal)
    reason = rng.choice(
        (
            "业务工作量增加，相应项目经费有所增加",
            "人员经费调整及项目结构优化",
            "部分项目完成后不再安排经费",
            "落实过紧日子要求，压减一般性支出",
        )
    )
    three_now = b.econ_sum(("30212", "31013", "30231", "30217"), FISCAL)
    three_prev = prev.econ_sum(("30212", "31013", "30231", "30217"), FISCAL)
    inc3, dif3, pct3 = _change(three_now, three_prev)
    abroad = b.econ_sum(("30212",), FISCAL)
    car_buy = b.econ_sum(("31013",), FISCAL)
    car_run = b.econ_sum(("30231",), FISCAL)
    recep = b.econ_sum(("30217",), FISCAL)
    admin_units = {u.name for u in d.units if u.admin}
    admin_exp = sum(
        (
            it.amount
            for it in b.basic
            if it.source in FISCAL and it.unit in admin_units and it.econ.startswith(("302", "310"))
        ),
        ZERO,
    )
    goods = b.econ_sum(("31002", "31003", "31007", "31013"), SOURCES)
    services = b.econ_sum(("30209", "30227"), SOURCES)
    assets = money(rng, 500, 30000)
    s = [
        f"第三部分 {y}年部门预算情况说明",
        "",
        "一、部门预算收支增减变化情况",
        "",
        f"{y}年本部门收入预算{fmt_thousands(total)}万元，比上年{inc}{dif}万元，{pct}，"
        f"主要原因是{reason}。支出预算{fmt_thousands(total)}万元，比上年{inc}{dif}万元，{pct}。",
        "",
        "二、“三公”经费安排情况",
        "",
        f"{y}年本部门财政拨款安排“三公”经费{fmt(three_now)}万元，比上年{inc3}{dif3}万元，{pct3}。"
        f"其中：因公出国（境）费{fmt(abroad)}万元；公务用车购置及运行费{fmt(car_buy + car_run)}万元"
        f"（公务用车购置费{fmt(car_buy)}万元，公务用车运行维护费{fmt(car_run)}万元）；"
        f"公务接待费{fmt(recep)}万元。",
        "",
        "三、机关运行经费安排情况",
        "",
        f"{y}年本部门行政经费（机关运行经费）预算{fmt(admin_exp)}万元，主要用于办公费、印刷费、"
        "水电费、物业管理费、差旅费等维持机关运行的支出。",
        "",
        "四、政府采购情况",
        "",
        f"{y} 年本部门政府采购安排 {fmt(goods + services)} 万元，其中：货物类采购预算 {fmt(goods)} "
        f"万元，工程类采购预算 0 万元，服务类采购预算 {fmt(services)} 万元。",
        "",
        "五、国有资产占有使用情况",
        "",
        f"截至 {y - 1} 年 12 月 31 日，本部门固定资产金额 {fmt(assets)} 万元，分布构成情况为：房屋 "
        f"{fmt_thousands(money(rng, 800, 30000))} 平方米，车辆 {rng.randint(0, 12)} 辆，"
        f"单价在 100 万元以上的设备 {rng.randint(0, 5)} 台等。",
        "",
        "六、重点项目预算绩效目标情况",
        "",
        f"{y} 年，本部门重点项目绩效目标情况如下：",
        "",
        "\t".join(key_table.header[0]),
    ]
    s += [
        "\t".join(fmt_short(x) if isinstance(x, Decimal) else x for x in r.cells)
        for r in key_table.rows
    ]
    s += ["", "注：无。", "", "第四部分 名词解释", ""]
    for g in GLOSSARY:
        s += [g, ""]
    return text + "\n".join(s)


def key_projects(b: Budget, n: int = 5) -> TableData:
    """The prose table of the largest projects with their performance targets."""
    top = sorted(b.projects, key=lambda p: (-p.amount, p.unit, p.name))[:n]
    rows = [TRow([p.name, p.amount, p.goal], p.unit, {0: "project"}, {0: None}) for p in top]
    return TableData(
        13,
        KEY_PROJECTS_TITLE,
        [["项目", "预算数(单位:万元)", "绩效目标"]],
        [Col("item"), Col("amount", 0), Col("text")],
        rows,
        [],
        99,
    )


# --- checking truth files ------------------------------------------------------------------


def revert_errors(
    lines: list[dict[str, Any]], errors: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Lines with every injected change undone (the amounts as generated)."""
    original = {
        (e["table_no"], e["unit"], e["item"], e["measure"], e["changed"]): e["original"]
        for e in errors
    }
    out = []
    for ln in lines:
        k = (ln["table_no"], ln["unit"], ln["item"], ln["measure"], ln["amount"])
        if ln.get("injected") and k in original:
            ln = {**ln, "amount": original[k]}
            ln.pop("injected")
        out.append(ln)
    return out


def arithmetic_errors(lines: list[dict[str, Any]]) -> list[str]:
    """Every accounting identity of the twelve tables that ``lines`` violate (empty = consistent).

    Checked: parent code = Σ children and 合计 = Σ 类 in coded tables; 合计 = 基本 + 项目 (+ the
    other expenditure columns) and 合计 = Σ funding columns across a row; 收入 = 支出 and the
    totals of the two-sided tables; 三公 = Σ parts; by-unit tables: 合计 = Σ units, unit = Σ its
    rows; and the same totals across tables.
    """
    problems: list[str] = []
    by_table: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ln in lines:
        by_table[ln["table_no"]].append(ln)

    def amt(ln: dict[str, Any]) -> Decimal:
        return D(ln["amount"])

    def val(no: int, item: str, measure: str, unit: str | None = None) -> Decimal | None:
        for ln in by_table[no]:
            if ln["item"] == item and ln["measure"] == measure and unit in (None, ln["unit"]):
                return amt(ln)
        return None

    def expect(what: str, got: Decimal | None, want: Decimal | None) -> None:
        if got is None or want is None:
            problems.append(f"{what}: missing line")
        elif got != want:
            problems.append(f"{what}: {fmt(got)} != {fmt(want)}")

    # coded tables: hierarchy and row identities
    for no in (2, 3, 5, 6, 8, 9, 10):
        rows: dict[str, dict[str, Decimal]] = defaultdict(dict)  # by printed code ("" = 合计)
        measures: list[str] = []
        for ln in by_table[no]:
            rows[ln["code"]][ln["measure"]] = amt(ln)
            if ln["measure"] not in measures:
                measures.append(ln["measure"])
        codes = [c for c in rows if c]
        for m in measures:
            for c in codes:
                kids = [k for k in codes if len(k) > len(c) and k.startswith(c)]
                if not kids:
                    continue
                direct = [
                    k for k in kids if not any(len(o) < len(k) and k.startswith(o) for o in kids)
                ]
                got = sum((rows[k].get(m, ZERO) for k in direct), ZERO)
                expect(f"table {no} [{c}] {m} = Σ children", rows[c].get(m), got)
            top = sum((rows[c].get(m, ZERO) for c in codes if len(c) == 3), ZERO)
            expect(f"table {no} 合计 {m} = Σ 类", rows[""].get(m), top)
        for key, r in rows.items():
            first, rest = measures[0], measures[1:]
            if no in (3, 5, 8, 9):
                parts = rest[:2] if no != 3 else rest
                expect(
                    f"table {no} {key} {first} = Σ parts",
                    r.get(first),
                    sum((r.get(m, ZERO) for m in parts), ZERO),
                )
            if no == 2:
                expect(
                    f"table 2 {key} 合计 = Σ sources",
                    r.get(first),
                    sum((r.get(m, ZERO) for m in rest), ZERO),
                )

    # two-sided tables
    for no in (1, 4):
        for side, total, grand in (
            ("income", "本年收入合计", "收入总计"),
            ("expenditure", "本年支出合计", "支出总计"),
        ):
            items = [ln for ln in by_table[no] if ln.get("side") == side]
            names = [ln["item"] for ln in items]
            if total not in names or grand not in names:
                problems.append(f"table {no} {side}: totals missing")
                continue
            i_total, i_grand = names.index(total), names.index(grand)
            expect(
                f"table {no} {total}",
                amt(items[i_total]),
                sum((amt(x) for x in items[:i_total]), ZERO),
            )
            expect(
                f"table {no} {grand}",
                amt(items[i_grand]),
                sum((amt(x) for x in items[i_total:i_grand]), ZERO),
            )
        expect(
            f"table {no} 收入总计 = 支出总计",
            val(no, "收入总计", "收入预算"),
            val(no, "支出总计", "支出预算"),
        )

    # 三公
    t7 = {(ln["item"], ln["measure"]): amt(ln) for ln in by_table[7]}
    for m in {ln["measure"] for ln in by_table[7]}:
        g = t7.get
        expect(
            f"table 7 三公 {m}",
            g(("“三公”经费", m)),
            sum(
                (
                    g((k, m), ZERO)
                    for k in (
                        "其中：（一）因公出国（境）支出",
                        "（二）公务用车购置及运行维护支出",
                        "（三）公务接待费支出",
                    )
                ),
                ZERO,
            ),
        )
        expect(
            f"table 7 公务用车 {m}",
            g(("（二）公务用车购置及运行维护支出", m)),
            g(("1.公务用车购置", m), ZERO) + g(("2.公务用车运行维护费", m), ZERO),
        )
    for item in {ln["item"] for ln in by_table[7]}:
        expect(
            f"table 7 {item} 合计",
            t7.get((item, "合计")),
            sum(
                (
                    t7.get((item, m), ZERO)
                    for m in ("一般公共预算", "政府性基金预算", "国有资本经营预算")
                ),
                ZERO,
            ),
        )

    # by-unit tables
    for no in (11, 12):
        rows_u: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(dict)
        order: list[tuple[str, str, str]] = []
        for ln in by_table[no]:
            k = (ln["row_kind"], ln["unit"], ln["item"])
            if k not in rows_u:
                order.append(k)
            rows_u[k][ln["measure"]] = amt(ln)
        for k, r in rows_u.items():
            expect(
                f"table {no} {k[2]} 总计",
                r.get("总计"),
                r.get("财政拨款合计", ZERO) + r.get("财政专户拨款", ZERO) + r.get("其他资金", ZERO),
            )
            expect(
                f"table {no} {k[2]} 财政拨款",
                r.get("财政拨款合计"),
                sum(
                    (
                        r.get(f"财政拨款{s}", ZERO)
                        for s in ("一般公共预算", "政府性基金预算", "国有资本经营预算")
                    ),
                    ZERO,
                ),
            )
        measures = sorted({m for r in rows_u.values() for m in r})
        total_rows = [k for k in order if k[0] == "total"]
        unit_rows = [k for k in order if k[0] == "unit"]
        for m in measures:
            if total_rows:
                expect(
                    f"table {no} 合计 {m} = Σ units",
                    rows_u[total_rows[0]].get(m),
                    sum((rows_u[u].get(m, ZERO) for u in unit_rows), ZERO),
                )
            for u in unit_rows:
                members = [r for r in order if r[1] == u[1] and r[0] in ("category", "project")]
                expect(
                    f"table {no} {u[1]} {m} = Σ rows",
                    rows_u[u].get(m),
                    sum((rows_u[r].get(m, ZERO) for r in members), ZERO),
                )

    # across tables
    expect(
        "支出总计: table 1 = table 3", val(1, "本年支出合计", "支出预算"), val(3, "合计", "合计")
    )
    expect("收入: table 2 = table 3", val(2, "合计", "合计"), val(3, "合计", "合计"))
    expect("基本支出: table 3 = table 11", val(3, "合计", "基本支出"), val(11, "合计", "总计"))
    expect("项目支出: table 3 = table 12", val(3, "合计", "项目支出"), val(12, "合计", "总计"))
    expect(
        "一般公共预算: table 4 = table 5",
        val(4, "一、一般公共预算", "收入预算"),
        val(5, "合计", "一般公共预算支出小计"),
    )
    expect(
        "基本支出: table 5 = table 6",
        val(5, "合计", "一般公共预算支出其中：基本支出"),
        val(6, "合计", "预算"),
    )
    expect(
        "项目支出: table 5 = table 10",
        val(5, "合计", "一般公共预算支出项目支出"),
        val(10, "合计", "预算"),
    )
    expect(
        "一般公共预算基本: table 6 = table 11",
        val(6, "合计", "预算"),
        val(11, "合计", "财政拨款一般公共预算"),
    )
    return problems


# --- documents -----------------------------------------------------------------------------

_RENDERER: ModuleType | None = None


def renderer() -> ModuleType:
    """The sibling render_budget_pdf module, loaded by path (scripts/ is not a package)."""
    global _RENDERER
    if _RENDERER is None:
        mod = sys.modules.get("render_budget_pdf")
        if mod is None:
            path = Path(__file__).with_name("render_budget_pdf.py")
            spec = importlib.util.spec_from_file_location("render_budget_pdf", path)
            assert spec and spec.loader
            mod = importlib.util.module_from_spec(spec)
            sys.modules["render_budget_pdf"] = mod
            spec.loader.exec_module(mod)
        _RENDERER = mod
    return _RENDERER


@dataclass(frozen=True)
class DocSpec:
    """One document to make: which department and year, where, in which style."""

    index: int  # department index
    year: int
    ordinal: int  # position in the corpus, drives the style cycle
    seed: int
    inject_rate: float
    outdir: str


def style_for(ordinal: int, seed: int) -> dict[str, str]:
    """Rules, orientation and font cycle independently so neighbours differ in all three."""
    return {
        "rules": RULE_CYCLE[(ordinal + seed) % len(RULE_CYCLE)],
        "orientation": ORIENTATION_CYCLE[(ordinal + ordinal // 3 + seed) % 3],
        "font": FONT_CYCLE[(ordinal // 2 + seed) % len(FONT_CYCLE)],
    }


def make_document(spec: DocSpec) -> dict[str, Any]:
    """Generate, write and render one document; return a summary for the corpus index."""
    dept = department(spec.index, spec.seed)
    b = build_budget(dept, spec.year, spec.seed)
    prev = build_budget(dept, spec.year - 1, spec.seed)
    rng = random.Random(f"doc|{spec.seed}|{dept.key}|{spec.year}")
    tables = build_tables(b, rng)
    errors = inject(
        tables, spec.inject_rate, random.Random(f"inject|{spec.seed}|{dept.key}|{spec.year}")
    )
    key = key_projects(b)
    text = document_text(b, prev, tables, key, rng)
    name = f"{dept.key}-{spec.year}-budget"
    out = Path(spec.outdir)
    (out / f"{name}.txt").write_text(text, encoding="utf-8")
    style = style_for(spec.ordinal, spec.seed)
    info = renderer().render(text, out / f"{name}.pdf", **style)
    truth: dict[str, Any] = {
        "document": name,
        "department": dept.name,
        "org_key": dept.key,
        "year": spec.year,
        "phase": "budget",
        "currency_unit": "万元",
        "subordinate_units": [u.name for u in dept.units if not u.admin],
        "divisions": dept.divisions,
        "duties": len(dept.duties),
        "style": {**style, "font_used": info.font, "pages": info.pages},
        "totals": {
            "total": fmt(b.total()),
            "basic": fmt(sum((i.amount for i in b.basic), ZERO)),
            "project": fmt(sum((p.amount for p in b.projects), ZERO)),
        },
        "lines": truth_lines([*tables, key], errors),
        "errors": errors,
    }
    (out / f"{name}.truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return {
        "document": name,
        "pages": info.pages,
        "lines": len(truth["lines"]),
        "errors": len(errors),
        **style,
    }


def generate_corpus(
    outdir: str | Path,
    departments: int,
    years: Sequence[int],
    seed: int = 0,
    inject_rate: float = 0.0,
    jobs: int = 1,
) -> list[dict[str, Any]]:
    """Write ``departments × years`` documents into ``outdir``; deterministic for ``seed``
    whatever ``jobs`` is. Returns one summary per document (also written to index.json)."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    specs = [
        DocSpec(d, y, d * len(years) + k, seed, inject_rate, str(out))
        for d in range(departments)
        for k, y in enumerate(years)
    ]
    if jobs > 1 and len(specs) > 1:
        renderer()  # importable by name in forked workers
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            summaries = list(pool.map(make_document, specs))
    else:
        summaries = [make_document(s) for s in specs]
    (out / "index.json").write_text(
        json.dumps(
            {"seed": seed, "inject_rate": inject_rate, "documents": summaries},
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    return summaries


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--departments", type=int, default=3)
    ap.add_argument("--years", type=int, nargs="+", default=[2023])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--inject-rate",
        type=float,
        default=0.0,
        help="probability that a printed amount is altered (recorded as an error)",
    )
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args(argv)
    docs = generate_corpus(a.outdir, a.departments, a.years, a.seed, a.inject_rate, a.jobs)
    for s in docs:
        print(
            f"{s['document']}: {s['pages']} pages, {s['lines']} lines, {s['errors']} errors, "
            f"{s['rules']}/{s['orientation']}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
